#pragma once
// SparseGPT (Frantar & Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned in
// One-Shot", ICML 2023; IST-DASLab/sparsegpt sparsegpt.py): GPTQ's column-by-column error
// propagation with pruning instead of rounding. With U the upper Cholesky factor of H⁻¹ (H from
// gptq.h's HessianAccumulator, damped), blocks of B columns: the unstructured mask prunes the
// ⌊p·out·B⌋ lowest w²/U_cc² of the block; N:M prunes, at the start of each M-column group, the
// M − N lowest scores of the current, already-updated weights in each row. Each column's pruning
// error e = (w − q)/U_ii is spread over the columns not yet visited.
// Reproduces (tests): on the same layer and inputs SparseGPT's output error ≤ Wanda's and
// magnitude's (PruneTest.SparseGptBeatsWandaAndMagnitude); on sotu-llama SparseGPT ≤ Wanda at 50%
// and < magnitude at 2:4 (PruneAccuracy.*). Paper check: LLaMA-2-7B 50% 6.51, 2:4 10.17.
#include <ATen/ATen.h>

#include <string>

#include "core/compress/wanda.h"

namespace quench {

struct SparseGptInfo {
  int64_t dead_columns = 0;
  double damp = 0;  // λ used
  double loss = 0;  // Σ (w − q)² / U_ii²: SparseGPT's own error estimate
};

// w2d: F32 [out, in]; H: [in, in]. Throws naming the layer when H is not positive definite after damping.
PruneOutcome sparsegpt_prune(const at::Tensor& w2d, const at::Tensor& H, const PruneSetting& p, const std::string& layer,
                             SparseGptInfo* info = nullptr);

}  // namespace quench
