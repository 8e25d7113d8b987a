#include "core/ops/fp8.h"

#include <cmath>

#include "core/util/error.h"

namespace quench::ops {

at::Tensor round_e4m3(const at::Tensor& v) {
  const at::Tensor x = v.to(at::kFloat).clamp(-kE4m3Max, kE4m3Max);
  // The spacing of E4M3 values around x: 2^(e−3) for a normal x in [2^e, 2^(e+1)), and the
  // subnormal step 2^-9 below 2^-6 (e clamped to −6). round() is half to even in torch, which on
  // x / step (an integer count of steps) is ties-to-even on the mantissa.
  const at::Tensor e = at::floor(at::log2(x.abs())).clamp_min(-6);
  const at::Tensor step = at::pow(2.0, e - 3);
  return at::round(x / step) * step;
}

at::Tensor fake_quant_e4m3(const at::Tensor& x, double scale) {
  QUENCH_CHECK(std::isfinite(scale) && scale > 0, "fake_quant_e4m3: scale ", scale, " is not a positive finite number");
  const auto s = static_cast<float>(scale);
  return (round_e4m3(x.to(at::kFloat) / s) * s).to(x.scalar_type());
}

}  // namespace quench::ops
