#pragma once
// FP8 E4M3 ("fn") bytes as values: sign bit 7, exponent bits 6–3 with bias 7, mantissa bits 2–0,
// subnormals m·2^-9, no infinities, 0x7F / 0xFF NaN. The one decoder of stored FP8 bytes: the
// compressed-tensors reader's weights and scales, and the exporter's exactness checks.
#include <ATen/ATen.h>

namespace quench {

// F32 of the bytes' shape.
at::Tensor e4m3_values(const at::Tensor& bytes);

}  // namespace quench
