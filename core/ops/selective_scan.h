#pragma once
// CUDA entry of the Mamba-1 selective scan (core/nn/scan.h is the public API and holds the CPU
// reference loops). Internal to core: core/nn/scan.cpp calls this for CUDA tensors.
#include <ATen/ATen.h>

namespace quench::ops {

struct ScanKernelInputs {
  at::Tensor u, delta;      // [B, L, D]
  at::Tensor A;             // [D, N]
  at::Tensor B, C;          // [B, L, N]
  at::Tensor D;             // [D] or undefined
  at::Tensor delta_bias;    // [D] or undefined
  bool delta_softplus = false;
  // int8 inputs (u, delta, B, C all int8): value = q · scale.
  float u_scale = 1.f, delta_scale = 1.f, B_scale = 1.f, C_scale = 1.f;
  at::ScalarType out_dtype = at::kFloat;  // float inputs: ignored (y has the inputs' common dtype)
};

// Runs the kernel on the inputs' CUDA device and current stream. Returns an undefined tensor when
// no kernel takes the request (state > 16, a build without kernels), so the caller falls back.
// Float inputs of mixed dtypes are brought to their common dtype; A, D, delta_bias to float32.
at::Tensor selective_scan_cuda(const ScanKernelInputs& in);

}  // namespace quench::ops
