#include "core/ops/fp8.h"

#include <cmath>

#include "core/io/e4m3.h"
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

at::Tensor fake_quant_e4m3(const at::Tensor& x, const at::Tensor& scale) {
  const at::Tensor s = scale.to(x.device(), at::kFloat);
  const at::Tensor safe = at::where(s > 0, s, at::ones_like(s));
  return (round_e4m3(x.to(at::kFloat) / safe) * safe).to(x.scalar_type());
}

at::Tensor e4m3_bytes(const at::Tensor& v_in, const std::string& what) {
  const at::Tensor v = v_in.to(at::kFloat);
  const at::Tensor a = v.abs();
  // Normals (1 + m/8)·2^x are (x + 7)·8 + m; subnormals k·2^-9 are k.
  const at::Tensor x = at::floor(at::log2(at::where(a > 0, a, at::ones_like(a))));
  const at::Tensor normal = (x + 7) * 8 + (a / at::exp2(x) * 8 - 8);
  const at::Tensor mag = at::where(a >= std::ldexp(1.0, -6), normal, a * 512).round().clamp(0, 126).to(at::kInt);
  const at::Tensor bytes = at::bitwise_or(mag, at::where(at::signbit(v) & (a > 0), 0x80, 0).to(at::kInt)).to(at::kByte);
  const at::Tensor back = e4m3_values(bytes).abs();
  const at::Tensor bad = back.ne(a) | at::isnan(v);
  if (bad.any().item<bool>()) {
    const int64_t k = bad.reshape(-1).nonzero().reshape(-1)[0].item<int64_t>();
    fail(what, ": value ", v.reshape(-1)[k].item<double>(), " at element ", k, " is not an E4M3 number");
  }
  return bytes;
}

}  // namespace quench::ops
