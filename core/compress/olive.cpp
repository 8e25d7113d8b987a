#include "core/compress/olive.h"

#include <algorithm>
#include <array>
#include <limits>

#include "core/util/error.h"

namespace quench {

namespace {

constexpr uint8_t kVictim = 8;  // 1000: the normal grid's −0, never a value of its own
constexpr double kNormalLimit = 32;  // |v| beyond this (in units) is an outlier
constexpr std::array<double, 8> kInt = {0, 4, 8, 12, 16, 20, 24, 28};
constexpr std::array<double, 8> kFlint = {0, 2, 4, 6, 8, 12, 16, 32};
constexpr std::array<double, 8> kAbfloat = {0, 48, 64, 96, 128, 192, 256, 384};  // index 0 unused

const std::array<double, 8>& normal_grid(bool flint) { return flint ? kFlint : kInt; }

at::Tensor table(const std::array<double, 8>& t, const at::TensorOptions& o) {
  return at::tensor(std::vector<double>(t.begin(), t.end()), o.dtype(at::kDouble)).to(at::kFloat);
}

// Every value a 4-bit OliVe element can take, sorted: ± the normal grid and ± the abfloat grid.
at::Tensor candidates(bool flint, const at::TensorOptions& o) {
  std::vector<double> v;
  for (double m : normal_grid(flint)) {
    v.push_back(m);
    if (m > 0) v.push_back(-m);
  }
  for (size_t i = 1; i < kAbfloat.size(); ++i) {
    v.push_back(kAbfloat[i]);
    v.push_back(-kAbfloat[i]);
  }
  std::sort(v.begin(), v.end());
  return at::tensor(v, o.dtype(at::kDouble)).to(at::kFloat);
}

// Nearest candidate to each element of v (in units).
at::Tensor nearest(const at::Tensor& v, const at::Tensor& cand) {
  const int64_t K = cand.numel();
  const at::Tensor hi = at::searchsorted(cand, v.contiguous()).clamp(1, K - 1);
  const at::Tensor lo = hi - 1;
  const at::Tensor a = cand.index({lo}), b = cand.index({hi});
  return at::where((v - a).abs() <= (b - v).abs(), a, b);
}

// The outlier-victim rule on values in units, paired in memory order (padded to an even count).
// Returns the values with victims zeroed, and the victim mask, both of v's shape.
std::pair<at::Tensor, at::Tensor> pair_rule(const at::Tensor& q) {
  const int64_t n = q.numel();
  at::Tensor flat = q.reshape({-1});
  if (n % 2) flat = at::cat({flat, at::zeros({1}, flat.options())});
  const at::Tensor p = flat.view({-1, 2});
  const at::Tensor out_e = p.select(1, 0).abs() > kNormalLimit, out_o = p.select(1, 1).abs() > kNormalLimit;
  const at::Tensor victim = at::stack({out_o & ~out_e, out_e}, 1).reshape({-1}).narrow(0, 0, n).view(q.sizes());
  return {at::where(victim, at::zeros_like(q), q), victim};
}

struct Fit {
  at::Tensor dq, unit, err, clip;  // dequantized weight; unit per scale; weight error per scale; α / xmax per scale
};

// The α search for one normal grid. slots: rows (channel) or 1 (tensor).
Fit search(const at::Tensor& W, bool flint, bool per_channel) {
  const at::Tensor cand = candidates(flint, W.options());
  const double nmax = normal_grid(flint).back();
  const at::Tensor X = per_channel ? W : W.reshape({1, -1});
  const at::Tensor mu = X.mean(1, true), sd = X.std(1, true, true).nan_to_num(0);
  at::Tensor xmax = at::max((mu + 3 * sd).abs(), (mu - 3 * sd).abs());
  const at::Tensor absmax = X.abs().amax(1, true);
  xmax = at::where(xmax > 0, xmax, at::where(absmax > 0, absmax, at::ones_like(absmax)));
  Fit best;
  best.err = at::full_like(xmax, std::numeric_limits<double>::infinity());
  for (int i = 50; i < 226; i += 2) {  // 88 ratios, 0.50 … 2.24
    const double r = i * 0.01;
    const at::Tensor unit = xmax * (r / nmax);
    const at::Tensor q = pair_rule(nearest(X / unit, cand)).first;
    const at::Tensor dq = q * unit;
    const at::Tensor err = (dq - X).pow(2).sum(1, true);
    const at::Tensor better = err < best.err;
    best.err = at::where(better, err, best.err);
    best.dq = best.dq.defined() ? at::where(better, dq, best.dq) : dq;
    best.unit = best.unit.defined() ? at::where(better, unit, best.unit) : unit;
    best.clip = best.clip.defined() ? at::where(better, at::full_like(xmax, r), best.clip) : at::full_like(xmax, r);
  }
  best.dq = best.dq.view(W.sizes());
  return best;
}

// Sign + 3-bit index of |v| in `grid` (v exactly on it).
at::Tensor code_of(const at::Tensor& v, const std::array<double, 8>& grid) {
  const at::Tensor mag = v.abs();
  at::Tensor idx = at::zeros(v.sizes(), v.options().dtype(at::kByte));
  for (size_t i = 1; i < grid.size(); ++i) idx = at::where(mag == grid[i], at::full_like(idx, static_cast<int64_t>(i)), idx);
  return at::where(v < 0, idx + 8, idx).to(at::kByte);
}

}  // namespace

at::Tensor olive_quantize(const at::Tensor& w2d, const WeightQuant& s, OliveInfo* info) {
  QUENCH_CHECK(w2d.dim() == 2, "OliVe expects a [out, in] weight, got ", w2d.sizes());
  QUENCH_CHECK(s.olive, "olive_quantize: the setting is not type \"olive\"");
  const at::Tensor W = w2d.to(at::kFloat).contiguous();
  const bool per_channel = s.strategy == WeightStrategy::Channel;
  bool flint = s.olive_normal == OliveNormal::Flint;
  Fit fit = search(W, flint, per_channel);
  if (s.olive_normal == OliveNormal::Auto) {
    Fit f = search(W, true, per_channel);
    if (f.err.sum().item<double>() < fit.err.sum().item<double>()) {
      fit = std::move(f);
      flint = true;
    }
  }
  if (info) {
    const at::Tensor unit = per_channel ? fit.unit : fit.unit.reshape({1, 1});
    const at::Tensor v = (fit.dq / unit).round();  // exact grid values in units
    const auto [kept, victim] = pair_rule(v);
    const at::Tensor outlier = kept.abs() > kNormalLimit;
    at::Tensor codes = at::where(outlier, code_of(kept, kAbfloat), code_of(kept, normal_grid(flint)));
    codes = at::where(victim, at::full_like(codes, kVictim), codes);
    info->flint = flint;
    info->codes = codes;
    info->scale = fit.unit.reshape({-1});
    const double n = static_cast<double>(W.numel());
    info->outlier_fraction = outlier.sum().item<double>() / n;
    info->victim_fraction = victim.sum().item<double>() / n;
    info->mean_clip = fit.clip.mean().item<double>();
  }
  return fit.dq;
}

at::Tensor olive_decode(const at::Tensor& codes, const at::Tensor& scale, bool flint) {
  QUENCH_CHECK(codes.dim() == 2 && codes.scalar_type() == at::kByte, "OliVe codes must be U8 [out, in], got ", codes.sizes());
  const int64_t n = codes.numel();
  at::Tensor flat = codes.reshape({-1}).to(at::kLong);
  if (n % 2) flat = at::cat({flat, at::zeros({1}, flat.options())});
  const at::Tensor p = flat.view({-1, 2});
  const at::Tensor e = p.select(1, 0), o = p.select(1, 1);
  const at::Tensor normal = table(normal_grid(flint), scale.options()), outl = table(kAbfloat, scale.options());
  auto value = [&](const at::Tensor& c, const at::Tensor& as_outlier) {
    const at::Tensor mag = at::where(as_outlier, outl.index({c.bitwise_and(7)}), normal.index({c.bitwise_and(7)}));
    return at::where(c.ge(8), -mag, mag);
  };
  // A victim (code 8) is 0 and marks its partner as an outlier.
  const at::Tensor ve = at::where(e.eq(kVictim), at::zeros_like(e, scale.options()), value(e, o.eq(kVictim)));
  const at::Tensor vo = at::where(o.eq(kVictim), at::zeros_like(o, scale.options()), value(o, e.eq(kVictim)));
  const at::Tensor units = at::stack({ve, vo}, 1).reshape({-1}).narrow(0, 0, n).view(codes.sizes());
  const at::Tensor unit = scale.numel() == 1 ? scale.reshape({1, 1}) : scale.reshape({-1, 1});
  return units * unit;
}

}  // namespace quench
