#pragma once
// One GPTQ lazy-update block (core/compress/gptq.h) as one launch: its columns are quantized in
// order, each column's error spread over the block's later columns through U, the upper Cholesky
// factor of H⁻¹. The rows of W are independent given U, so each thread owns one row and walks the
// columns; the update of the columns after the block stays a matmul in the caller. The column loop
// in torch ran ~15 launches and two host syncs per column: 0.7 s per 4096-column layer on an H100.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct GptqBlockParams {
  const float* w = nullptr;  // column c < count of row r at w[r·ld + c] (already updated by earlier blocks)
  float* q = nullptr;        // the fake-quantized columns, same layout as w
  float* err = nullptr;      // [rows, count] contiguous: (w − q) / U_cc, as the caller's update needs them
  const float* u = nullptr;  // U's diagonal block: u[i·ldu + j], i, j < count
  int64_t rows = 0, count = 0, ld = 0, ldu = 0;
  int bits = 4;  // 2..8, the integer grid of kernels/quant_math.h
  bool symmetric = true;
  float clip = 1.f;
  // group == 0: fixed parameters, scale[r·param_stride] (stride 0: one for the tensor), zero likewise
  // (null when symmetric). group > 0: a group starts at every column c with c % group == 0 and its
  // (scale, zero) are fitted on the current values of columns [c, min(c + group, count)), then
  // written to scale_out[r·out_ld + first_group + c / group] (zero_out likewise, asymmetric only).
  const float* scale = nullptr;
  const int32_t* zero = nullptr;
  int64_t param_stride = 0;
  int64_t group = 0;
  float* scale_out = nullptr;
  int32_t* zero_out = nullptr;
  int64_t out_ld = 0, first_group = 0;
  double* loss = nullptr;  // += Σ err² over the block (may be null)
};

// Largest count the kernel takes (a block of columns lives in shared memory).
constexpr int64_t kGptqMaxBlock = 128;

Status gptq_block(const GptqBlockParams& p, cudaStream_t stream);

}  // namespace quench::kernels
