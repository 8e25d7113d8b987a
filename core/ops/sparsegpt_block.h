#pragma once
// One SparseGPT lazy-update block on CUDA (kernels/sparsegpt.h): the columns [i1, i1 + count) of
// W are pruned into Q, their scaled errors written to Err, as sparsegpt_prune's column loop does.
#include <ATen/ATen.h>

namespace quench::ops {

// True when sparsegpt_block can run W's blocks of `count` columns: W on a GPU in a build with the
// kernels, count ≤ 128, M ≤ 64.
bool sparsegpt_block_on_kernel(const at::Tensor& W, int64_t count, int m);

// W, Q: F32 [out, in] contiguous; U: F32 [in, in] contiguous; Err: F32 [out, count];
// keep: bool [out, in] contiguous, its block read (m == 0: the unstructured mask the caller chose)
// or written (N:M, chosen here as the loop does). loss: F64 [1] on W's device, += Σ Err².
void sparsegpt_block(const at::Tensor& W, at::Tensor& Q, at::Tensor& Err, const at::Tensor& U, at::Tensor& keep, int64_t i1, int64_t count,
                     int n, int m, at::Tensor& loss);

}  // namespace quench::ops
