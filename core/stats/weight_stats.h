#pragma once
// Statistics of a compressible layer's weight, without data: what RTN, GPTQ and AWQ scales are
// made of (per-output-channel ranges), where input-channel outliers sit (per-input-channel
// magnitude), and the whole-tensor distribution.
//
// Channels by kind (weight layouts in core/nn/layer.h):
//   Linear    [out, in]                 output channel = row, input channel = column
//   Conv1d/2d [out, in/groups, k…]     output channel = dim 0, input channel = dim 1 (within its
//                                       group) aggregated over the output channels and the kernel window
//   Embedding [vocab, dim]              "output channel" = one token's row, input channel = one embedding dim
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/nn/layer.h"
#include "core/stats/distribution.h"
#include "core/stats/outliers.h"
#include "core/stats/streaming_stats.h"

namespace quench {

struct WeightStats {
  std::string layer;  // Hugging Face module name
  LayerKind kind = LayerKind::Linear;
  std::vector<int64_t> shape;
  Distribution all;  // every weight

  std::vector<double> out_min, out_max, out_absmax, out_std;  // [shape[0]]
  std::vector<double> in_absmax, in_std;                      // [shape[1]]
  OutlierReport outliers;  // input channels, on in_absmax
};

// One weight tensor (any device). opts: histogram bins and the outlier multiple. A 2-D float,
// bf16 or fp16 weight on the CPU goes through one fused multi-threaded pass (and one for the
// histogram); anything else through libtorch's reductions (weight_stats_reference).
// between_slices, when given, makes the fused passes read the weight a slice of rows (≥ 32 MiB)
// at a time and is called after each: a streamed model lets go of the mapped file's pages there.
// Sums then accumulate in another order, so the results may differ in the last bits.
WeightStats weight_stats(const std::string& layer, LayerKind kind, const at::Tensor& weight, const StatsOptions& opts = {},
                         const std::function<void()>& between_slices = {});
// The same statistics from channel_moments and Histogram::add: the generic path, and what the
// fused pass is tested and benchmarked against.
WeightStats weight_stats_reference(const std::string& layer, LayerKind kind, const at::Tensor& weight, const StatsOptions& opts = {});
// A layer's current weight (the dense weight of its kernel when it has one).
WeightStats weight_stats(const Layer& layer, const StatsOptions& opts = {}, const std::function<void()>& between_slices = {});

}  // namespace quench
