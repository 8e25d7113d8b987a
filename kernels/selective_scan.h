#pragma once
// Mamba-1 selective scan, forward, state in float32:
//   δ = delta (+ delta_bias[d]) (softplus'ed if delta_softplus),
//   h[n] ← exp(A[d,n]·δ)·h[n] + δ·B[b,t,n]·u[b,t,d],   y[b,t,d] = Σ_n h[n]·C[b,t,n] + D[d]·u[b,t,d].
// Inputs in float32 / float16 / bfloat16, or int8 with static per-tensor scales (Quamba: u = x,
// δ, B and C arrive quantized and are dequantized in registers as q·scale).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

constexpr int kSelectiveScanMaxState = 16;  // Mamba-1 models use 16; larger N is Unsupported

struct SelectiveScanParams {
  DType in_dtype = DType::F32;   // u, delta, B, C: F32, F16, BF16, or I8
  DType out_dtype = DType::F32;  // y: same as in_dtype for float inputs; F16 or F32 for I8 inputs
  int64_t batch = 0, len = 0, dim = 0, state = 0;  // B, L, D, N

  // [B, L, D] with d contiguous, and [B, L, N] with n contiguous; strides in elements.
  const void* u = nullptr;
  int64_t u_batch_stride = 0, u_len_stride = 0;
  const void* delta = nullptr;
  int64_t delta_batch_stride = 0, delta_len_stride = 0;
  const void* B = nullptr;
  int64_t B_batch_stride = 0, B_len_stride = 0;
  const void* C = nullptr;
  int64_t C_batch_stride = 0, C_len_stride = 0;

  const float* A = nullptr;           // [D, N] contiguous
  const float* D = nullptr;           // [D] or null (no skip term)
  const float* delta_bias = nullptr;  // [D] or null
  bool delta_softplus = false;        // softplus(x) = log1p(exp(x)), x for x > 20 (as torch)

  // I8 only: value = q · scale.
  float u_scale = 1.f, delta_scale = 1.f, B_scale = 1.f, C_scale = 1.f;

  void* y = nullptr;  // [B, L, D] contiguous
};

Status selective_scan(const SelectiveScanParams& p, cudaStream_t stream);

}  // namespace quench::kernels
