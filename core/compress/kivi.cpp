#include "core/compress/kivi.h"

#include "core/util/error.h"

namespace quench {

namespace {

ops::QuantSpec group_spec(const KvQuant& s) {
  ops::QuantSpec q;
  q.bits = s.bits;
  q.symmetric = false;
  q.granularity = ops::Granularity::Group;
  q.group_size = s.group_size;
  return q;
}

}  // namespace

at::Tensor kivi_keys(const at::Tensor& k, const KvQuant& s) {
  QUENCH_CHECK(k.dim() == 3, "kivi: keys must be [B, T, C], got ", k.sizes());
  const int64_t T = k.size(1);
  const int64_t kept = s.residual > 0 ? T % s.residual : 0;
  const int64_t nq = T - kept;
  if (nq <= 0) return k;
  // per channel: groups of G tokens along time → quantize [B, C, nq] in groups along the last dim
  const at::Tensor part = k.narrow(1, 0, nq).transpose(1, 2).contiguous();
  const at::Tensor q = ops::fake_quant(part, group_spec(s)).transpose(1, 2);
  if (kept == 0) return q.contiguous();
  return at::cat({q, k.narrow(1, nq, kept)}, 1);
}

at::Tensor kivi_values(const at::Tensor& v, const KvQuant& s) {
  QUENCH_CHECK(v.dim() == 3, "kivi: values must be [B, T, C], got ", v.sizes());
  const int64_t T = v.size(1);
  const int64_t kept = std::min(T, s.residual);
  const int64_t nq = T - kept;
  if (nq <= 0) return v;
  const at::Tensor q = ops::fake_quant(v.narrow(1, 0, nq).contiguous(), group_spec(s));  // per token, groups of G channels
  if (kept == 0) return q;
  return at::cat({q, v.narrow(1, nq, kept)}, 1);
}

}  // namespace quench
