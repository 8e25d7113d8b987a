#pragma once
// Fast Walsh–Hadamard transform along the last dimension: out[r] = scale · H_n · x[r] for
// n = K·2^m, K in {1, 12, 20, 28}, H_n = H_K ⊗ H_{2^m} (index i = a·2^m + b; K×K matrices from
// kernels/hadamard_k.h, H_{2^m} Sylvester's). scale = 1/√n gives the orthonormal transform.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct HadamardParams {
  const void* x = nullptr;  // [rows, n], contiguous
  void* out = nullptr;      // [rows, n], contiguous; may be x itself (in place)
  DType dtype = DType::F32; // F32, F16 or BF16 (computed in float32)
  int64_t rows = 0, n = 0;
  float scale = 1.f;
};

// The largest n the kernel takes on the current device (a row and its block's other rows must fit
// in shared memory as float32); larger n is Unsupported.
int64_t hadamard_max_n();

Status hadamard_transform(const HadamardParams& p, cudaStream_t stream);

}  // namespace quench::kernels
