#include "core/nn/weight_encoding.h"

#include "core/util/error.h"

namespace quench {

at::Tensor encoding_per_element(const at::Tensor& p, const ops::QuantSpec& spec, const at::Tensor& g_idx, int64_t out, int64_t in) {
  switch (spec.granularity) {
    case ops::Granularity::Tensor: return p.reshape({1, 1}).expand({out, in});
    case ops::Granularity::Row: return p.reshape({out, 1}).expand({out, in});
    case ops::Granularity::Column: return p.reshape({1, in}).expand({out, in});
    case ops::Granularity::Group: {
      const at::Tensor cols = g_idx.defined() ? g_idx.to(p.device(), at::kLong) : at::floor_divide(at::arange(in, p.options().dtype(at::kLong)), spec.group_size);
      return p.reshape({out, -1}).index_select(1, cols);
    }
  }
  fail("weight encoding: unknown granularity");
}

at::Tensor grid_integers(const at::Tensor& w2d, const WeightEncoding& e, const std::string& what) {
  QUENCH_CHECK(e.spec, what, ": no integer grid recorded for the weight");
  const ops::QuantSpec& spec = *e.spec;
  const at::Device dev = w2d.device();
  const int64_t out = w2d.size(0), in = w2d.size(1);
  const at::Tensor gi = e.g_idx.defined() ? e.g_idx.to(dev) : at::Tensor();
  const at::Tensor se = encoding_per_element(e.params.scale.detach().to(dev, at::kFloat), spec, gi, out, in);
  at::Tensor ze;
  if (!spec.symmetric) {
    QUENCH_CHECK(e.params.zero.defined(), what, ": asymmetric encoding without zero points");
    ze = encoding_per_element(e.params.zero.detach().to(dev, at::kFloat), spec, gi, out, in);
  }
  const at::Tensor wf = w2d.to(at::kFloat);
  at::Tensor q = at::round(wf / se);
  if (ze.defined()) q = q + ze;
  const int64_t lo = spec.symmetric ? -(int64_t{1} << (spec.bits - 1)) : 0;
  const int64_t hi = spec.symmetric ? (int64_t{1} << (spec.bits - 1)) - 1 : (int64_t{1} << spec.bits) - 1;
  // The same float32 product as ops::dequantize, rounded to the weight's dtype once.
  const at::Tensor back = ze.defined() ? (q - ze) * se : q * se;
  const at::Tensor bad = q.lt(lo).logical_or(q.gt(hi)).logical_or(back.to(w2d.scalar_type()).ne(w2d));
  if (bad.any().item<bool>()) {
    const int64_t k = bad.reshape(-1).nonzero().reshape(-1)[0].item<int64_t>();
    fail(what, ": the weight is not on its recorded ", spec.bits, "-bit grid (row ", k / in, ", column ", k % in, ": ", wf.reshape(-1)[k].item<double>(),
         " vs ", back.reshape(-1)[k].item<double>(), ")");
  }
  return q;
}

}  // namespace quench
