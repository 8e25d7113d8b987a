#pragma once
// Activation fake-quantization through hook transforms (core/nn/hooks.h): static per-tensor
// scales from calibration statistics (core/stats: min-max, a percentile of |x| from the
// calibration histogram, or the range minimizing the histogram's expected quantization MSE), or
// dynamic scales computed from each tensor (per tensor, or per token: SmoothQuant's and
// compressed-tensors' W8A8). The formulas are core/ops/fake_quant.h's.
#include <ATen/ATen.h>

#include "core/compress/settings.h"
#include "core/nn/hooks.h"
#include "core/stats/streaming_stats.h"

namespace quench {

// Static (scale, zero) for a point from its calibration statistics (per tensor).
// Throws naming the point when it saw no finite value.
ops::QuantParams static_act_params(const ActQuant& a, const ActivationStats& stats);

// The range a static observer picks, for reports: [lo, hi] (symmetric: [-m, m]).
std::pair<double, double> static_act_range(const ActQuant& a, const ActivationStats& stats);

// x ↦ fake_quant(x). Static: with `params`; dynamic: from x itself, per tensor or per token, where a
// token is every position of the non-channel axes (channel_dim: -1 for [..., C], 1 for [B, C, …]).
Transform act_quant_transform(const ActQuant& a, const ops::QuantParams& params, int64_t channel_dim);

// The same as a plain function (for error measurements outside the hooks).
at::Tensor act_fake_quant(const at::Tensor& x, const ActQuant& a, const ops::QuantParams& params, int64_t channel_dim);

// x's last dim in E2M1 scale blocks of format t (MXFP4 / NVFP4), as a weight row of that format
// is rounded; the last dim must be whole scale blocks. The blocks are independent but for NVFP4's
// one tensor scale (taken from x), so the values are cut into rows of the format's packing unit,
// zero-padded: a padded block is all zeros and stays so. Used by FP4 activations and KV caches.
at::Tensor fp4_fake_quant(const at::Tensor& x, GgmlType t);

}  // namespace quench
