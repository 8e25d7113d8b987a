#include "core/compress/hqq.h"

#include <cmath>
#include <limits>

#include "core/compress/weight_method.h"
#include "core/util/error.h"

namespace quench {

namespace {
constexpr double kLp = 0.7, kBeta = 10.0, kKappa = 1.01;
constexpr int kIters = 20;

at::Tensor shrink_lp(const at::Tensor& x, double beta) {
  const at::Tensor a = x.abs();
  // |x|^(p−1) is infinite at 0, where the result is 0 either way.
  return at::sign(x) * at::relu(a - at::pow(a.clamp_min(1e-12), kLp - 1) / beta);
}
}  // namespace

at::Tensor hqq_quantize(const at::Tensor& w2d, const WeightQuant& s, HqqInfo* info) {
  QUENCH_CHECK(w2d.dim() == 2, "hqq_quantize: expects a [out, in] weight");
  QUENCH_CHECK(!s.symmetric && (s.strategy == WeightStrategy::Group || s.strategy == WeightStrategy::Channel),
               "hqq_quantize: asymmetric groups or rows only");
  const int64_t out = w2d.size(0), in = w2d.size(1);
  const int64_t g = s.strategy == WeightStrategy::Group ? s.group_size : in;
  QUENCH_CHECK(g > 0 && in % g == 0, "hqq_quantize: group size ", g, " does not divide ", in, " inputs");
  const at::Tensor W = w2d.to(at::kFloat).reshape({out * (in / g), g});
  const double qmax = std::pow(2.0, s.bits) - 1;
  const at::Tensor lo = std::get<0>(W.min(1, true)), hi = std::get<0>(W.max(1, true));
  // 1/s as the reference keeps it. Its clamp to 2e4 guards float16, which this float32 pass does
  // not need; only a constant group (no range) takes 1.
  const at::Tensor range = hi - lo;
  const at::Tensor inv = at::where(range > 0, qmax / range.clamp_min(std::numeric_limits<float>::min()), at::ones_like(range));
  at::Tensor zero = -lo * inv;
  auto dequant = [&](const at::Tensor& z, at::Tensor* wq) {
    *wq = at::round(W * inv + z).clamp(0, qmax);
    return (*wq - z) / inv;
  };
  at::Tensor wq;
  at::Tensor best_r = dequant(zero, &wq);
  double best = (W - best_r).abs().mean().item<double>();
  const double start = best;
  double beta = kBeta;
  int iterations = 0;
  for (int i = 0; i < kIters; ++i) {
    // wq and best_r belong to the current zero.
    const at::Tensor e = shrink_lp(W - best_r, beta);
    const at::Tensor next = (wq - (W - e) * inv).mean(1, true);
    beta *= kKappa;
    at::Tensor next_wq;
    const at::Tensor rn = dequant(next, &next_wq);
    const double err = (W - rn).abs().mean().item<double>();
    if (!(err < best)) break;
    best = err;
    best_r = rn;
    wq = next_wq;
    zero = next;
    ++iterations;
  }
  QUENCH_CHECK(at::isfinite(best_r).all().item<bool>(), "HQQ produced non-finite weights");
  if (info) {
    info->iterations = iterations;
    info->mean_abs_error = best;
    info->minmax_abs_error = start;
  }
  return best_r.reshape({out, in});
}

QUENCH_WEIGHT_METHOD(hqq_method, 50) {
  static const WeightMethodInfo m{
      "hqq", "HQQ (data-free, fitted zero points)", MethodData::None, {},
      // an fp16 scale and an fp16 zero per slot; the generic count adds a b-bit zero for asymmetric settings
      [](const WeightQuant& w, int64_t, int64_t, double slots) { return slots * (32.0 - w.bits); },
      "HQQ's fractional zero points",
      [](WeightMethodCall& c) {
        HqqInfo info;
        c.weight = hqq_quantize(c.weight, c.setting, &info);
        c.details["hqq_iterations"] = info.iterations;
        // against its own min–max start (a fractional zero: not quite RTN, which rounds the zero)
        c.details["hqq_abs_error_vs_start"] = info.minmax_abs_error > 0 ? info.mean_abs_error / info.minmax_abs_error : 1.0;
      },
      nullptr,
      [](const WeightQuant& w, const std::function<void(const char*, const std::string&)>& fail) {
        if (w.ggml) fail("method", "\"hqq\" fits zero points on an integer grid (format \"int\"), not on a ggml block type");
        if (w.symmetric) fail("symmetric", "method \"hqq\" fits each group's zero point (symmetric: false)");
        if (w.strategy == WeightStrategy::Tensor) fail("strategy", "method \"hqq\" quantizes groups or rows (strategy \"group\" or \"channel\")");
      },
      /*default_asymmetric=*/true,
      /*any_layer_kind=*/true};
  return m;
}

}  // namespace quench
