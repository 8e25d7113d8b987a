#pragma once
// Low-bit weights times half-precision activations for few rows (decoding): y = x · Ŵᵀ with
// Ŵ[n, k] = scale[n, k / group] · (u[n, k] − zero[n, k / group]), u the 4-bit unsigned integers as
// compressed-tensors packs them (eight per int32 along k, lowest bits first). A symmetric grid's
// signed q is stored as u = q + 8, so its zero is 8 (zero == nullptr).
//
// Memory-bound at small M: each weight is read once, as 4 bits instead of 16, dequantized in
// registers with one float32 multiply (the same product as ops::dequantize, so the weights equal
// the fake-quantized ones in float32) and applied to every row of x, accumulated in float32.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct W4A16Params {
  DType dtype = DType::F16;      // of x and y: F16 or BF16
  const void* x = nullptr;       // [m, k] row-major
  const int32_t* qweight = nullptr;  // [n, k / 8]
  const float* scale = nullptr;  // [n, groups], groups = ceil(k / group)
  const int32_t* zero = nullptr; // [n, groups], or null: symmetric (8)
  void* y = nullptr;             // [m, n] row-major
  int64_t m = 0, n = 0, k = 0, group = 0;  // group: a multiple of 32 (k itself for one scale per row)
};

// Most rows of x one launch takes; callers dequantize and use a dense GEMM beyond it.
constexpr int64_t kW4A16MaxRows = 16;

// Whether the kernel takes these sizes (k and group multiples of 32, 1 ≤ m ≤ kW4A16MaxRows).
bool w4a16_supported(int64_t m, int64_t k, int64_t group);
Status w4a16_gemm(const W4A16Params& p, cudaStream_t stream);

}  // namespace quench::kernels
