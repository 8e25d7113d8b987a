#pragma once
// Quamba (Chiang et al., "Quamba: A Post-Training Quantization Recipe for Selective State Space
// Models", 2024; enyac-group/Quamba) as a one-click recipe preset: static, symmetric, per-tensor
// 8-bit weights and activations for Mamba-1 and Mamba-2, with
//   - percentile clipping of the scan input x (mixer:x; the paper's 99.999th percentile of |x|),
//   - an online Hadamard rotation of out_proj's input (the gated scan output, d_inner wide),
//     its activation scale calibrated in the rotated space, and W_out ← W_out·Hᵀ offline,
//   - embeddings, the LM head, the state, A_log, D and the residual stream kept in full precision.
// Mamba-1 follows Quamba's quantized points (in_proj output: x and z share a scale; x; x_proj
// output: Δ-low-rank, B and C share a scale; dt_proj output). Mamba-2 has no x_proj/dt_proj: its
// points are in_proj's input, the conv's input (the xBC slice of in_proj's output), x, B and C,
// and out_proj's input (rotated).
// Percentiles come from the calibration histogram over all calibration tokens (core/stats) rather
// than Quamba's running average of per-batch quantiles; docs/results.md has the numbers it reaches.
// Reproduces (test QuantAccuracy.QuambaBeatsNaiveW8A8OnMamba2): on sotu-mamba2 the preset's
// perplexity is below that of naive static per-tensor W8A8 (paper: Mamba-2.8B W8A8 −0.9% zero-shot
// accuracy where naive W8A8 collapses).
#include <nlohmann/json.hpp>

#include <string>

namespace quench {

// The preset as recipe JSON for an architecture; throws RecipeError (key "preset") for a model
// that is not Mamba or Mamba-2.
nlohmann::json quamba_recipe(const std::string& architecture);

}  // namespace quench
