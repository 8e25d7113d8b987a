#pragma once
// HQQ (Badri & Shaji, "Half-Quadratic Quantization of Large Machine Learning Models", 2023;
// mobiusml/hqq hqq/core/optimize.py `optimize_weights_proximal_legacy`, quantize.py): data-free
// asymmetric quantization whose zero points are fitted to the weights under a sparsity-promoting
// ℓp (p < 1) loss, so that a few large weights do not set everyone's error.
//   Start from min–max: 1/s = (2^b − 1) / (max − min), z = −min / s, per group (or row); the
//   reference bounds 1/s by 2e4 for float16, which this float32 pass leaves out.
//   Repeat (β ← β·κ each time, at most `iters`):
//     W_q = clamp(round(W/s + z), 0, 2^b − 1),  W_r = s·(W_q − z),
//     W_e = shrink_p(W − W_r, β) = sign(x)·relu(|x| − |x|^(p−1)/β)      (the outliers' residual),
//     z   = mean over the group of (W_q − (W − W_e)/s),
//   while the mean |W − W_r| keeps falling. Defaults as the reference: p = 0.7, β = 10, κ = 1.01,
//   20 iterations; scales stay at min–max.
// Deviation: the reference returns the zero of the last update even when that step did not lower
// the error; Quench keeps the zero with the lowest error. Zero points stay fractional (float), so
// the result lies on no integer grid an exporter writes (both refuse HQQ by name).
// Storage: b bits per weight, an fp16 scale and an fp16 zero per group.
// Reproduces (tests): on heavy-tailed weights HQQ's mean |ΔW| is below min–max RTN's with the same
// grid (HqqTest.BeatsMinMaxRtnOnHeavyTails, as the paper's Table 1 orders them), and on sotu-llama
// W3 per channel HQQ's perplexity is below RTN's (QuantAccuracy.HqqW3BeatsRtn; with groups of 32
// the two are within 0.3, docs/results.md).
#include <ATen/ATen.h>

#include "core/compress/settings.h"

namespace quench {

struct HqqInfo {
  int iterations = 0;          // updates of the zero points that lowered the error
  double mean_abs_error = 0;   // mean |W − W_r| of the result
  double minmax_abs_error = 0; // the same for the min–max start (its zero fractional, unlike RTN's)
};

// w2d: F32 [out, in]; setting: asymmetric, strategy group or channel. Returns s·(W_q − z).
at::Tensor hqq_quantize(const at::Tensor& w2d, const WeightQuant& setting, HqqInfo* info = nullptr);

}  // namespace quench
