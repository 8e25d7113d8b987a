#pragma once
// Magnitude and Wanda pruning (Sun et al., "A Simple and Effective Pruning Approach for Large
// Language Models", ICLR 2024; locuslab/wanda lib/prune.py), and the masks every pruning method
// shares. Wanda scores S_ij = |W_ij|·‖X_:,j‖₂ (the input column's norm over the calibration
// tokens) and zeroes the lowest scores per output row; magnitude scores |W_ij| with one threshold
// per matrix. N:M keeps the N highest scores in every run of M inputs of a row. No weight update.
// compress() prunes block-sequentially, so each layer's norms come from already pruned earlier
// layers, as the reference does.
// Reproduces (tests): on the same layer and inputs Wanda's output error ≤ magnitude's
// (PruneTest.WandaBeatsMagnitudeOnOutliers); on sotu-llama at 50% Wanda beats magnitude
// (PruneAccuracy.Unstructured50). Paper check: LLaMA-2-7B 50% magnitude 14.89, Wanda 6.42.
#include <ATen/ATen.h>

#include "core/compress/prune_method.h"

namespace quench {

// Masks (bool, true = kept) from scores [out, in]: the `count` lowest of the whole matrix pruned;
// the `count` lowest of each row; the N highest of every M consecutive columns kept.
at::Tensor mask_lowest_in_matrix(const at::Tensor& score, int64_t count);
at::Tensor mask_lowest_per_row(const at::Tensor& score, int64_t count);
at::Tensor mask_nm(const at::Tensor& score, int n, int m);

// Magnitude (input_norms undefined) or Wanda (input_norms: F32 [in], ‖X_:,j‖₂ or any positive
// multiple of it). w2d: F32 [out, in].
PruneOutcome prune_by_score(const at::Tensor& w2d, const PruneSetting& p, const at::Tensor& input_norms = {});

}  // namespace quench
