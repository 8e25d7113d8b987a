#include "core/compress/kivi.h"

#include "core/ops/fake_quant.h"
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

namespace {

// rows [R, C] quantized in groups of G along C (asymmetric), kept packed.
KiviKvStore::Packed pack_rows(const at::Tensor& rows, const KvQuant& s) {
  const ops::QuantSpec spec = group_spec(s);
  const ops::Quantized q = ops::quantize(rows.contiguous(), spec);
  // float16 scales as KIVI keeps them, held inside float16's range (a group of zeros has scale 1).
  return {ops::pack_int32(q.q, s.bits), q.params.scale.clamp(1.0 / (1 << 24), 65504.0).to(at::kHalf), q.params.zero.to(at::kByte)};
}

at::Tensor unpack_rows(const KiviKvStore::Packed& p, int64_t cols, const KvQuant& s, at::ScalarType dtype) {
  const at::Tensor q = ops::unpack_int32(p.codes, s.bits, cols, /*is_signed=*/false);
  return ops::dequantize(q, {p.scale.to(at::kFloat), p.zero.to(at::kInt)}, group_spec(s), dtype);
}

}  // namespace

int64_t KiviKvStore::Packed::bytes() const {
  return codes.numel() * 4 + scale.numel() * 2 + zero.numel();
}

KiviKvStore::KiviKvStore(const KvQuant& s) : s_(s) {
  QUENCH_CHECK(s.method == KvMethod::Kivi, "KiviKvStore: not a KIVI setting");
  QUENCH_CHECK(s.residual > 0 && s.group_size > 0 && s.residual % s.group_size == 0, "kv_cache: KIVI decodes with a float window: residual (",
               s.residual, ") must be a positive multiple of group_size (", s.group_size, ")");
}

std::pair<at::Tensor, at::Tensor> KiviKvStore::append(const at::Tensor& k, const at::Tensor& v) {
  QUENCH_CHECK(k.dim() == 4 && v.sizes() == k.sizes(), "kv cache: keys and values must be [B, H, T, D] of one shape, got ", k.sizes(), " and ",
               v.sizes());
  const int64_t B = k.size(0), H = k.size(1), T = k.size(2), D = k.size(3), R = s_.residual;
  QUENCH_CHECK(D % s_.group_size == 0, "kv_cache: KIVI's value groups of ", s_.group_size, " channels must divide the head size ", D);
  if (k_res_.defined())
    QUENCH_CHECK(k_res_.size(0) == B && k_res_.size(1) == H && k_res_.size(3) == D, "kv cache: new keys ", k.sizes(), " do not continue the cached ",
                 k_res_.sizes());
  k_res_ = k_res_.defined() ? at::cat({k_res_, k}, 2) : k.contiguous();
  v_res_ = v_res_.defined() ? at::cat({v_res_, v}, 2) : v.contiguous();
  tokens_ += T;
  // Keys: every full window goes out, per channel along time, joining the earlier windows along
  // a chunk dimension so that one dequantization reads them all.
  while (k_res_.size(2) >= R) {
    const at::Tensor out = k_res_.narrow(2, 0, R).permute({0, 1, 3, 2}).reshape({B * H * D, R});
    Packed p = pack_rows(out, s_);
    if (keys_.codes.defined()) {
      keys_ = {at::cat({keys_.codes, p.codes.unsqueeze(1)}, 1), at::cat({keys_.scale, p.scale.unsqueeze(1)}, 1),
               at::cat({keys_.zero, p.zero.unsqueeze(1)}, 1)};
    } else {
      keys_ = {p.codes.unsqueeze(1), p.scale.unsqueeze(1), p.zero.unsqueeze(1)};
    }
    k_res_ = k_res_.narrow(2, R, k_res_.size(2) - R).contiguous();
  }
  // Values: all but the newest R tokens go out, per token along channels.
  if (const int64_t n = v_res_.size(2) - R; n > 0) {
    // Kept as [B, H, t, ·] so that each step's tokens join the earlier ones: one dequantization per step.
    Packed p = pack_rows(v_res_.narrow(2, 0, n).reshape({B * H * n, D}), s_);
    auto as4 = [&](const at::Tensor& t) { return t.view({B, H, n, t.size(1)}); };
    if (values_.codes.defined()) {
      values_ = {at::cat({values_.codes, as4(p.codes)}, 2), at::cat({values_.scale, as4(p.scale)}, 2), at::cat({values_.zero, as4(p.zero)}, 2)};
    } else {
      values_ = {as4(p.codes), as4(p.scale), as4(p.zero)};
    }
    v_res_ = v_res_.narrow(2, n, R).contiguous();
  }
  // What attention reads: the dequantized past, then the float window.
  const at::ScalarType dt = k.scalar_type();
  std::vector<at::Tensor> ks, vs;
  if (keys_.codes.defined()) {
    const int64_t n = keys_.codes.size(1);  // windows of R tokens
    const Packed rows{keys_.codes.reshape({B * H * D * n, -1}), keys_.scale.reshape({B * H * D * n, -1}), keys_.zero.reshape({B * H * D * n, -1})};
    ks.push_back(unpack_rows(rows, R, s_, dt).view({B, H, D, n * R}).transpose(2, 3));
  }
  ks.push_back(k_res_);
  if (values_.codes.defined()) {
    const int64_t t = values_.codes.size(2);
    const Packed rows{values_.codes.reshape({B * H * t, -1}), values_.scale.reshape({B * H * t, -1}), values_.zero.reshape({B * H * t, -1})};
    vs.push_back(unpack_rows(rows, D, s_, dt).view({B, H, t, D}));
  }
  vs.push_back(v_res_);
  return {at::cat(ks, 2), at::cat(vs, 2)};
}

int64_t KiviKvStore::bytes() const {
  int64_t n = 0;
  for (const Packed* p : {&keys_, &values_})
    if (p->codes.defined()) n += p->bytes();
  for (const at::Tensor* t : {&k_res_, &v_res_})
    if (t->defined()) n += t->numel() * static_cast<int64_t>(t->element_size());
  return n;
}

}  // namespace quench
