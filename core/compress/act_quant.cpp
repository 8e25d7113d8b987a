#include "core/compress/act_quant.h"

#include <cmath>
#include <limits>

#include "core/ops/fp8.h"
#include "core/ops/ggml_grid.h"
#include "core/util/error.h"

namespace quench {

namespace {

ops::QuantSpec tensor_spec(const ActQuant& a) {
  ops::QuantSpec s;
  s.bits = a.bits;
  s.symmetric = a.symmetric;
  s.granularity = ops::Granularity::Tensor;
  return s;
}

ops::QuantParams params_for_range(const ActQuant& a, double lo, double hi) {
  const auto t = [](double v) { return at::tensor({static_cast<float>(v)}, at::kFloat); };
  const double m = std::max(std::fabs(lo), std::fabs(hi));
  if (a.fp8) return {t(m > 0 ? m / ops::kE4m3Max : 1.0), {}};  // the range's edge lands on E4M3's largest value
  return ops::qparams_from_range(t(m), t(lo), t(hi), tensor_spec(a));
}

// Static (given params) fake-quantization on the activation's grid: one scale, or one per channel
// of the last dim (grouped scales spread to their channels, quamba2.h).
at::Tensor fake_quant_static(const at::Tensor& x, const ActQuant& a, const ops::QuantParams& p) {
  if (a.fp8) return ops::fake_quant_e4m3(x, p.scale);
  ops::QuantSpec spec = tensor_spec(a);
  if (p.scale.numel() > 1) spec.granularity = ops::Granularity::Column;
  return ops::fake_quant(x, p, spec);
}

// FP8 scales from the data itself: absmax / 448 over the last dim (per token) or the whole tensor.
at::Tensor fp8_dynamic(const at::Tensor& x, bool per_token) {
  const at::Tensor amax = per_token ? x.detach().abs().amax(-1, true).to(at::kFloat) : x.detach().abs().max().to(at::kFloat);
  return ops::fake_quant_e4m3(x, amax / ops::kE4m3Max);
}

// Expected squared error of quantizing the histogram's values (at bin centres) with [lo, hi].
double histogram_mse(const ActQuant& a, const Histogram& h, const at::Tensor& centres, const at::Tensor& counts, double lo, double hi) {
  const auto p = params_for_range(a, lo, hi);
  const at::Tensor q = fake_quant_static(centres, a, p);
  return ((q - centres).pow(2).to(at::kDouble) * counts).sum().item<double>();
}

// RepQ-ViT's log√2 quantizer (quant/quantizer.py LogSqrt2Quantizer with Δ = 1, softmax's bound):
// its own formula, not core/ops', because the grid is powers of √2 rather than evenly spaced.
at::Tensor log_sqrt2_fake_quant(const at::Tensor& x, int bits) {
  const double top = static_cast<double>((int64_t{1} << bits) - 1);
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor q = (-2.0 * at::log2(xf.abs())).round().clamp_min(0);  // |x| = 0 → +∞
  const at::Tensor v = at::where(q > top, at::zeros_like(xf), at::pow(2.0, -q / 2.0) * xf.sign());
  return v.to(x.scalar_type());
}

}  // namespace

std::pair<double, double> static_act_range(const ActQuant& a, const ActivationStats& st) {
  QUENCH_CHECK(st.all.count > 0, st.point, ": no finite values were observed, so no static scale can be calibrated");
  const double mn = st.all.min, mx = st.all.max, am = st.all.absmax;
  switch (a.observer) {
    case ActObserver::MinMax: return a.symmetric ? std::make_pair(-am, am) : std::make_pair(mn, mx);
    case ActObserver::Percentile: {
      const double p = st.all.histogram.abs_percentile(a.percentile);
      if (a.symmetric) return {-p, p};
      return {std::max(mn, -p), std::min(mx, p)};
    }
    case ActObserver::Mse: {
      const Histogram& h = st.all.histogram;
      const auto edges = h.edges();
      std::vector<float> c(static_cast<size_t>(h.bins()));
      for (int64_t i = 0; i < h.bins(); ++i) c[i] = static_cast<float>(0.5 * (edges[i] + edges[i + 1]));
      const at::Tensor centres = at::tensor(c, at::kFloat);
      const at::Tensor counts = at::tensor(h.counts(), at::kLong).to(at::kDouble);
      double best = std::numeric_limits<double>::infinity(), best_r = 1.0;
      for (int i = 0; i < 100; ++i) {  // ratios 1, 0.99, …, 0.01 of the full range
        const double r = 1.0 - 0.01 * i;
        const double e = a.symmetric ? histogram_mse(a, h, centres, counts, -am * r, am * r) : histogram_mse(a, h, centres, counts, mn * r, mx * r);
        if (e < best) best = e, best_r = r;
      }
      return a.symmetric ? std::make_pair(-am * best_r, am * best_r) : std::make_pair(mn * best_r, mx * best_r);
    }
  }
  fail("static_act_range: unknown observer");
}

ops::QuantParams static_act_params(const ActQuant& a, const ActivationStats& st) {
  const auto [lo, hi] = static_act_range(a, st);
  return params_for_range(a, lo, hi);
}

at::Tensor fp4_fake_quant(const at::Tensor& x, GgmlType t) {
  const ops::GgmlGridInfo g = ops::ggml_grid_info(t);
  QUENCH_CHECK(x.size(-1) % g.slot == 0, ggml_info(t).name, ": ", x.size(-1), " channels are not whole blocks of ", g.slot);
  at::Tensor flat = x.reshape({-1}).to(at::kFloat);
  const int64_t n = flat.numel(), pad = (g.unit - n % g.unit) % g.unit;
  if (pad) flat = at::constant_pad_nd(flat, {0, pad});
  const at::Tensor q = ops::ggml_fake_quant(flat.view({-1, g.unit}), t).reshape({-1});
  return q.narrow(0, 0, n).view(x.sizes()).to(x.scalar_type());
}

at::Tensor act_fake_quant(const at::Tensor& x, const ActQuant& a, const ops::QuantParams& params, int64_t channel_dim) {
  if (a.log_sqrt2) return log_sqrt2_fake_quant(x, a.bits);
  if (a.fp4) {
    // Every token's channels in blocks, as a weight's rows are: the same grid and rounding.
    const int64_t cd = channel_dim < 0 ? channel_dim + x.dim() : channel_dim;
    const at::Tensor v = cd == x.dim() - 1 ? x : x.movedim(cd, -1);
    const int64_t c = v.size(-1), unit = ops::ggml_grid_info(*a.fp4).unit;
    QUENCH_CHECK(c % unit == 0, ggml_info(*a.fp4).name, " activations: ", c, " channels are not whole blocks of ", unit);
    const at::Tensor q = fp4_fake_quant(v, *a.fp4);
    return cd == x.dim() - 1 ? q : q.movedim(-1, cd);
  }
  if (a.strategy == ActStrategy::Token) {
    const int64_t cd = channel_dim < 0 ? channel_dim + x.dim() : channel_dim;
    auto per_token = [&](const at::Tensor& v) { return a.fp8 ? fp8_dynamic(v, true) : ops::fake_quant_per_token(v, a.bits, a.symmetric); };
    if (cd == x.dim() - 1) return per_token(x);
    return per_token(x.movedim(cd, -1)).movedim(-1, cd);
  }
  if (a.dynamic) return a.fp8 ? fp8_dynamic(x, false) : ops::fake_quant(x, tensor_spec(a));
  return fake_quant_static(x, a, params);
}

Transform act_quant_transform(const ActQuant& a, const ops::QuantParams& params, int64_t channel_dim) {
  QUENCH_CHECK(a.dynamic || params.scale.defined(), "act_quant_transform: a static quantizer needs calibrated parameters");
  return [a, params, channel_dim](const at::Tensor& x) { return act_fake_quant(x, a, params, channel_dim); };
}

}  // namespace quench
