#include "core/compress/rtn.h"

#include "core/util/error.h"

namespace quench {

std::vector<double> mse_clip_ratios() {
  std::vector<double> r;
  for (int i = 0; i < 20; ++i) r.push_back(1.0 - 0.025 * i);
  return r;
}

at::Tensor slot_weight_error(const at::Tensor& w2d, const at::Tensor& w_fake, const ops::QuantSpec& spec) {
  auto e = (w_fake - w2d).pow(2);  // [out, in]
  switch (spec.granularity) {
    case ops::Granularity::Tensor: return e.sum().reshape({1});
    case ops::Granularity::Row: return e.sum(1);
    case ops::Granularity::Group: {
      const int64_t out = w2d.size(0), in = w2d.size(1), g = spec.group_size;
      QUENCH_CHECK(in % g == 0, "slot_weight_error: group size ", g, " does not divide ", in);
      return e.view({out, in / g, g}).sum(2).reshape({-1});
    }
    case ops::Granularity::Column: return e.sum(0);
  }
  fail("slot_weight_error: unknown granularity");
}

ops::QuantParams search_clip(const at::Tensor& w2d, const ops::QuantSpec& spec_in, const std::vector<double>& ratios, const SlotError& error,
                             at::Tensor* ratios_out) {
  QUENCH_CHECK(!ratios.empty(), "search_clip: no clip ratios");
  ops::QuantSpec spec = spec_in;
  at::Tensor best_err, best_scale, best_zero, best_ratio;
  std::vector<int64_t> shape;
  for (double r : ratios) {
    spec.clip = r;
    ops::QuantParams p = ops::compute_qparams(w2d, spec);
    shape = p.scale.sizes().vec();
    const at::Tensor wq = ops::fake_quant(w2d, p, spec);
    const at::Tensor e = error(wq).reshape({-1}).to(at::kDouble);
    const at::Tensor s = p.scale.reshape({-1});
    const at::Tensor z = p.zero.defined() ? p.zero.reshape({-1}) : at::Tensor();
    if (!best_err.defined()) {
      best_err = e;
      best_scale = s.clone();
      best_zero = z.defined() ? z.clone() : z;
      best_ratio = at::full_like(s, r);
      continue;
    }
    const at::Tensor better = e < best_err;
    best_err = at::where(better, e, best_err);
    best_scale = at::where(better, s, best_scale);
    if (z.defined()) best_zero = at::where(better, z, best_zero);
    best_ratio = at::where(better, at::full_like(s, r), best_ratio);
  }
  ops::QuantParams out;
  out.scale = best_scale.reshape(shape);
  if (best_zero.defined()) out.zero = best_zero.reshape(shape);
  if (ratios_out) *ratios_out = best_ratio;
  return out;
}

at::Tensor rtn_quantize(const at::Tensor& w2d, const WeightQuant& s, RtnInfo* info) {
  QUENCH_CHECK(w2d.dim() == 2, "rtn_quantize: expects a 2-d weight, got ", w2d.sizes());
  const ops::QuantSpec spec = s.spec();
  if (s.clip == ClipMode::MinMax) {
    if (info) info->mean_clip = 1.0;
    return ops::fake_quant(w2d, spec);
  }
  at::Tensor chosen;
  const auto p = search_clip(
      w2d, spec, mse_clip_ratios(), [&](const at::Tensor& wq) { return slot_weight_error(w2d, wq, spec); }, &chosen);
  if (info) info->mean_clip = chosen.mean().item<double>();
  return ops::fake_quant(w2d, p, spec);
}

}  // namespace quench
