#include "core/compress/zipcache.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ops/fake_quant.h"
#include "core/util/error.h"

namespace quench {

namespace {

ops::QuantSpec group_spec(int bits, int64_t group) {
  ops::QuantSpec q;
  q.bits = bits;
  q.symmetric = false;
  q.granularity = ops::Granularity::Group;
  q.group_size = group;
  return q;
}

// The probed query positions, ascending: the newest half, and the rest drawn from the older ones.
at::Tensor probe_positions(int64_t T, double probe) {
  const int64_t n = std::clamp<int64_t>(std::llround(probe * static_cast<double>(T)), 1, T);
  const int64_t recent = (n + 1) / 2, older = T - recent;
  at::Tensor idx = at::arange(older, T, at::kLong);
  const int64_t drawn = std::min(n - recent, older);
  if (drawn > 0) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
    idx = at::cat({at::randperm(older, gen, at::kLong).narrow(0, 0, drawn), idx});
  }
  return std::get<0>(idx.sort());
}

// x [B, T, C] split by the [B, T] mask: the rows of each class, in time order, and their positions.
struct Split {
  at::Tensor pos;  // [B, n] positions of the class
  at::Tensor x;    // [B, n, C]
};
Split take(const at::Tensor& x, const at::Tensor& mask, bool which) {
  const int64_t B = x.size(0), C = x.size(2);
  const at::Tensor m = which ? mask : mask.logical_not();
  const int64_t n = m.select(0, 0).sum().item<int64_t>();
  // Every sequence has the same count (top-k), so the positions form a [B, n] matrix; a stable
  // sort of the mask puts them first, in time order.
  const at::Tensor order = std::get<1>(m.to(at::kInt).neg().sort(/*stable=*/true, 1, false));
  const at::Tensor pos = order.narrow(1, 0, n);
  return {pos, x.gather(1, pos.unsqueeze(-1).expand({B, n, C}))};
}

template <typename Quant>
at::Tensor by_class(const at::Tensor& x, const at::Tensor& salient, const KvQuant& s, Quant quant) {
  QUENCH_CHECK(x.dim() == 3 && salient.dim() == 2 && salient.size(0) == x.size(0) && salient.size(1) == x.size(1),
               "zipcache: expected [B, T, C] with a [B, T] mask, got ", x.sizes(), " and ", salient.sizes());
  at::Tensor out = x.clone();
  for (bool hi : {true, false}) {
    const Split part = take(x, salient.to(x.device()), hi);
    if (part.pos.size(1) == 0) continue;
    out.scatter_(1, part.pos.unsqueeze(-1).expand_as(part.x), quant(part.x, hi ? s.high_bits : s.bits));
  }
  return out;
}

}  // namespace

at::Tensor zipcache_saliency(const at::Tensor& q, const at::Tensor& k, int64_t D, double probe) {
  QUENCH_CHECK(q.dim() == 3 && k.dim() == 3 && q.size(0) == k.size(0) && q.size(1) == k.size(1), "zipcache: queries ", q.sizes(),
               " and keys ", k.sizes(), " do not belong together");
  QUENCH_CHECK(D > 0 && q.size(2) % D == 0 && k.size(2) % D == 0 && (q.size(2) / D) % (k.size(2) / D) == 0, "zipcache: head_dim ", D,
               " does not split queries of ", q.size(2), " and keys of ", k.size(2), " channels into query and key/value heads");
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2) / D, Hk = k.size(2) / D;
  const at::Tensor pos = probe_positions(T, probe).to(q.device());
  const at::Tensor qh = q.to(at::kFloat).view({B, T, H, D}).index_select(1, pos).permute({0, 2, 1, 3});     // [B, H, P, D]
  const at::Tensor kh = k.to(at::kFloat).view({B, T, Hk, D}).permute({0, 2, 3, 1}).repeat_interleave(H / Hk, 1);  // [B, H, D, T]
  at::Tensor scores = qh.matmul(kh) / std::sqrt(static_cast<double>(D));                                       // [B, H, P, T]
  const at::Tensor keys = at::arange(T, pos.options());
  const at::Tensor future = keys.unsqueeze(0) > pos.unsqueeze(1);  // [P, T]: a query sees keys up to itself
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  const at::Tensor A = at::softmax(scores, -1);
  // nnz(A_:,j): how many probed queries can see token j (the newest query sees all of them).
  const at::Tensor seen = future.logical_not().sum(0).to(at::kFloat).clamp_min(1);  // [T]
  return (A.sum(2) / seen).mean(1);
}

at::Tensor zipcache_salient(const at::Tensor& saliency, double salient) {
  const int64_t T = saliency.size(1);
  const int64_t n = std::clamp<int64_t>(std::llround(salient * static_cast<double>(T)), 0, T);
  at::Tensor mask = at::zeros(saliency.sizes(), saliency.options().dtype(at::kBool));
  if (n > 0) mask.scatter_(1, std::get<1>(saliency.topk(n, 1)), true);
  return mask;
}

at::Tensor zipcache_keys(const at::Tensor& k, const at::Tensor& salient, const KvQuant& s) {
  // Per channel: groups of G tokens along time, so quantize [B, C, n] in groups along its last dim.
  return by_class(k, salient, s, [&](const at::Tensor& part, int bits) {
    return ops::fake_quant(part.transpose(1, 2).contiguous(), group_spec(bits, s.group_size)).transpose(1, 2);
  });
}

at::Tensor zipcache_values(const at::Tensor& v, const at::Tensor& salient, const KvQuant& s) {
  // Channel-normalized first, so that a loud channel does not set every token's scale.
  const at::Tensor norm = v.abs().amax(1, true).clamp_min(1e-12);
  const at::Tensor q = by_class(v / norm, salient, s, [&](const at::Tensor& part, int bits) {
    return ops::fake_quant(part.contiguous(), group_spec(bits, s.group_size));
  });
  return q * norm;
}

}  // namespace quench
