#pragma once
// AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration", MLSys 2024; mit-han-lab/llm-awq auto_scale.py, auto_clip.py): protect the weights
// that meet large activations by scaling input channels before rounding.
//  1. Scale search per group (a preceding op and the linears reading it, core/compress/family.h):
//     x̄_j = mean_t |X_tj|; for r = 0, 1/grid, …, (grid−1)/grid: s = max(x̄^r, 1e-4),
//     s ← s / √(max s · min s); loss(s) = output MSE with Q(W·diag s)·diag(s)⁻¹ for the group's
//     layers. Keep the best s, fold 1/s into the preceding op and s into the readers (exact in float).
//     Our loss is the MSE of the whole block's output with only the group's layers quantized (the
//     reference inspects the attention / MLP module output): the same objective one level up.
//  2. Clip search per layer (not on queries and keys): per (row, group) try max·(1 − i/20),
//     i = 0…9, keep the lowest output MSE on calibration inputs.
// Linears without a foldable preceding op (Llama's o_proj under grouped-query attention, lm_head)
// get the clip search only, as in the reference.
// Reproduces (test QuantAccuracy.AwqBeatsRtnW4G128): on sotu-llama AWQ W4 g128 perplexity is below
// RTN W4 g128. Paper check: Llama-2-7B WikiText-2 INT4 g128 RTN 5.73 → AWQ 5.60.
#include <ATen/ATen.h>

#include <functional>

#include "core/compress/settings.h"

namespace quench {

struct AwqScale {
  at::Tensor scale;   // F32 [in]
  double ratio = 0;   // the exponent r kept
  double loss = 0;    // its loss
  double loss_plain = 0;  // the loss without scaling (r = 0)
};

// x_absmean: F32 [in] (mean |x| per input channel); loss(s) evaluates one candidate scale.
AwqScale awq_search_scale(const at::Tensor& x_absmean, int grid, const std::function<double(const at::Tensor& s)>& loss);

// The (scale, zero) per slot of w2d [out, in] chosen by AWQ's clip search on inputs x [n, in]
// (≤ max_tokens rows are used). mean_clip receives the mean ratio chosen.
ops::QuantParams awq_search_clip(const at::Tensor& w2d, const at::Tensor& x, const WeightQuant& setting, double* mean_clip = nullptr,
                                 int64_t max_tokens = 2048);

// The clip ratios AWQ tries: 1 − i/20, i = 0…9.
std::vector<double> awq_clip_ratios();

}  // namespace quench
