#pragma once
// SmoothQuant (Xiao et al., "SmoothQuant: Accurate and Efficient Post-Training Quantization for
// Large Language Models", ICML 2023; mit-han-lab/smoothquant smooth.py): migrate activation
// outliers into the weights before W8A8. For each norm and the linears reading it
// (core/compress/family.h): a_j = max_t |X_tj| over calibration tokens, w_j = max over the
// readers' rows |W_ij|, s_j = max(a_j^α / w_j^(1−α), 1e-5); the norm's weight (and bias) ÷ s,
// W[:, j] × s_j. Exact in float; quantization then sees flatter activations.
// Reproduces (tests): the float model's logits are unchanged by smoothing
// (SmoothQuantTest.FloatLogitsUnchanged); on sotu-llama static per-tensor W8A8 perplexity improves
// with it (QuantAccuracy.SmoothQuantImprovesStaticW8A8). Paper check: Llama-2-7B WikiText-2
// 5.474 → 5.515 at α = 0.85 (W8A8).
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/models/model.h"
#include "core/stats/calibrate.h"

namespace quench {

// act_absmax: [in] (any float dtype); weights: the readers' [out, in] weights. F32 [in].
at::Tensor smoothquant_scales(const at::Tensor& act_absmax, const std::vector<at::Tensor>& weights, double alpha);

struct SmoothedGroup {
  std::string prev;  // the norm (or linear) the scales were folded into
  std::vector<std::string> layers;
  double min_scale = 0, max_scale = 0;
};

// Calibrates a_j on `batches` (one pass of the float model) for every SmoothQuant pair of every
// block and folds the scales. Throws when the family has no pairs.
std::vector<SmoothedGroup> apply_smoothquant(Model& model, double alpha, const BatchSource& batches, const Progress& progress = {});

}  // namespace quench
