#pragma once
// 4-bit packed weights times half-precision activations on CUDA (kernels/w4a16.h), for the few
// rows of decoding. Larger batches and other devices dequantize and use a dense GEMM (the caller's).
#include <ATen/ATen.h>

namespace quench::ops {

// True when w4a16_linear can run x [m, k] against these weights here: x float16/bfloat16 on a GPU
// in a build with the kernels, 1 ≤ m ≤ 16, k and group multiples of 32.
bool w4a16_on_kernel(const at::Tensor& x2d, int64_t group);

// y [m, n] = x2d [m, k] · Ŵᵀ, Ŵ = scale · (u − zero) per group of `group` inputs. qweight: I32
// [n, k / 8] (pack_int32 of 4-bit values, a symmetric q stored as q + 8); scale: F32 [n, groups];
// zero: I32 [n, groups] or undefined (symmetric). All on x2d's device, contiguous.
at::Tensor w4a16_linear(const at::Tensor& x2d, const at::Tensor& qweight, const at::Tensor& scale, const at::Tensor& zero, int64_t group);

}  // namespace quench::ops
