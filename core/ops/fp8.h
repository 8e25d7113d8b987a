#pragma once
// FP8 E4M3 ("fn": no infinities, largest finite 448, NaN 0x7F / 0xFF), the format of NVIDIA's FP8
// tensor cores and the OCP 8-bit float spec, simulated in F32 (Debian's libtorch 1.13 has no
// float8 dtype): round to the nearest representable value, ties to an even mantissa, saturating
// at ±448 (as vLLM's and TensorRT's quantizers clamp before they cast).
// Representable: 0, subnormals k·2^-9 (k = 1…7), normals (1 + m/8)·2^e (e = −6…8, m = 0…7, ≤ 448).
#include <ATen/ATen.h>

#include <string>

namespace quench::ops {

constexpr double kE4m3Max = 448.0;

// Every element of v (any float dtype) rounded to E4M3, as F32; NaN stays NaN.
at::Tensor round_e4m3(const at::Tensor& v);

// x quantized to E4M3 with one scale and dequantized: round_e4m3(x / scale) · scale, in x's dtype.
// scale > 0 (absmax / 448 puts the largest |x| on 448).
at::Tensor fake_quant_e4m3(const at::Tensor& x, double scale);
// The same with scales broadcast against x (per channel, per token); a scale of 0 is taken as 1.
at::Tensor fake_quant_e4m3(const at::Tensor& x, const at::Tensor& scale);

// The E4M3 bytes (sign bit 7, exponent bits 6–3 with bias 7, mantissa bits 2–0) of values that are
// exactly E4M3 numbers, as U8 of v's shape; throws naming `what` when one is not (NaN included).
at::Tensor e4m3_bytes(const at::Tensor& v, const std::string& what);
// (core/io/e4m3.h decodes them.)

}  // namespace quench::ops
