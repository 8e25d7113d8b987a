#pragma once
// One SparseGPT lazy-update block (core/compress/sparsegpt.h) as one launch: GPTQ's block
// (kernels/gptq.h) with pruning in place of rounding. Each thread owns one row and walks the
// block's columns: a column's kept weights stay, the pruned ones become 0, and the error
// (w − q)/U_ii is spread over the block's later columns. The torch column loop it replaces ran
// ~10 launches per column: ~2 minutes per 8B decoder block on an H100.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct SparseGptBlockParams {
  const float* w = nullptr;  // column c < count of row r at w[r·ld + c] (already updated by earlier blocks)
  float* q = nullptr;        // the pruned columns, same layout as w
  float* err = nullptr;      // [rows, count] contiguous: (w − q) / U_cc
  const float* u = nullptr;  // U's diagonal block: u[i·ldu + j], i, j < count
  // keep[r·ld_keep + c] (0 or 1, torch's bool): read when m == 0 (the caller chose the block's
  // unstructured mask); written when m > 0.
  uint8_t* keep = nullptr;
  int64_t rows = 0, count = 0, ld = 0, ldu = 0, ld_keep = 0;
  // N:M (m > 0, count a multiple of m): at each column c with c % m == 0 every row keeps the n
  // largest (w_j / U_jj)² of its current columns [c, c + m), ties to the lower column, as a stable
  // descending sort orders them.
  int n = 0, m = 0;
  double* loss = nullptr;  // += Σ err² over the block (may be null)
};

// Largest count the kernel takes (a block of columns lives in shared memory).
constexpr int64_t kSparseGptMaxBlock = 128;
// Largest M of N:M (the recipe's limit).
constexpr int kSparseGptMaxM = 64;

Status sparsegpt_block(const SparseGptBlockParams& p, cudaStream_t stream);

}  // namespace quench::kernels
