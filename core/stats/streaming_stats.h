#pragma once
// Statistics of one observable point over a stream of tensors, in memory that does not depend on
// how many tensors pass: whole-tensor moments and histogram, per-channel ranges, mean and std,
// a summary of per-token maxima, and the outlier channels.
//
// Each tensor is reduced on its own device: a float32/float16/bfloat16 tensor on CUDA by the
// channel-statistics kernel (ops/channel_stats: per-channel extremes and power sums up to the
// fourth around the running channel mean, the histogram over the current range and each token's
// absmax, in one pass; a second pass for a point's first tensor and whenever the histogram's range
// has to grow), anything else with a handful of libtorch reductions. Only per-channel and
// per-token vectors come back to the CPU, where they merge in double.
//
// Layout: the axis `channel_dim` holds channels (-1 for [..., C] as Linear sees it, 1 for
// [B, C, H, W] / [B, C, T] as Conv sees it). Every other axis counts as "token": for [B, T, C]
// a token is one position of one sequence; for [B, C, H, W] one pixel of one image.
//
// Non-finite values: a tensor holding NaN or ±Inf is counted in `nonfinite` (its bad elements)
// and `nonfinite_batches`, and left out of every other statistic, so that one overflow does not
// turn the whole point into NaN; the calibration reports it as a warning.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/stats/distribution.h"
#include "core/stats/histogram.h"
#include "core/stats/moments.h"
#include "core/stats/outliers.h"
#include "core/stats/workspace.h"

namespace quench {

struct StatsOptions {
  int64_t histogram_bins = 2048;                    // whole-tensor and per-token histograms
  double outlier_multiple = kDefaultOutlierMultiple;  // see outliers.h
  // CUDA tensors through the channel-statistics kernel; false: libtorch reductions on every device
  // (the earlier path, kept for comparison runs: bench/calibrate_bench.cpp --stats torch).
  bool kernels = true;
};

// Per token: max over channels of |x|. Tokens with a huge max are what per-token quantization
// (and KIVI's values) care about; kept as a bounded summary, not per token.
struct TokenMaxSummary {
  int64_t count = 0;  // tokens
  double max = 0, mean = 0, std = 0;
  Histogram histogram{2048, Histogram::Range::NonNegative};  // of the per-token maxima, over [0, limit]
  AbsPercentiles percentiles;                                // of the per-token maxima
};

// Everything known about one point after a stream: plain data for the store, the GUI and tests.
struct ActivationStats {
  std::string point;              // "model.layers.0.mlp.down_proj:input"
  int64_t channel_dim = -1;       // as the observer reported it
  std::vector<int64_t> shape;     // of the last tensor seen (the batch size and length may vary)
  int64_t batches = 0;            // tensors merged (finite ones)
  int64_t nonfinite = 0;          // elements in the tensors left out
  int64_t nonfinite_batches = 0;  // tensors left out
  Distribution all;               // over every element

  int64_t channels = 0;
  std::vector<double> channel_min, channel_max, channel_absmax;  // [channels]
  std::vector<double> channel_mean, channel_std;                 // [channels], std population
  TokenMaxSummary token_max;
  OutlierReport outliers;  // on channel_absmax
};

class StreamingStats {
 public:
  explicit StreamingStats(StatsOptions opts = {});

  // Merges one tensor (any device, any real dtype). The number of channels must stay the same
  // from one tensor to the next; `point` only names the point in error messages. ws: scratch
  // shared between calls (workspace.h); nullptr allocates temporaries.
  void add(const at::Tensor& t, int64_t channel_dim, const std::string& point = "", Workspace* ws = nullptr);

  ActivationStats result(const std::string& point) const;
  int64_t batches() const { return batches_; }
  int64_t channels() const { return channels_; }
  // Bytes this object holds: fixed once the channel count is known.
  size_t memory_bytes() const;

 private:
  // x2d: F32/F64 [tokens, channels], all finite; cm: its per-channel moments over the tokens.
  void add_finite(const at::Tensor& x2d, const ChannelMoments& cm, Workspace& ws);
  // t on CUDA, reduced by the kernel; false (nothing merged) when t is not finite, for the
  // libtorch path to count its bad elements.
  bool add_with_kernel(const at::Tensor& t, int64_t cd, Workspace& ws);
  void merge_channels(const ChannelMoments& cm);
  void merge_tokens(const at::Tensor& token, Workspace& ws);  // per-token absmax, F32/F64 [tokens]

  StatsOptions opts_;
  int64_t channel_dim_ = -1;
  std::vector<int64_t> shape_;
  int64_t batches_ = 0, nonfinite_ = 0, nonfinite_batches_ = 0;
  int64_t channels_ = 0;

  Moments all_;
  double min_ = 0, max_ = 0;
  Histogram hist_;

  double channel_n_ = 0;
  at::Tensor ch_mean_, ch_m2_, ch_min_, ch_max_;  // F64 CPU [channels]

  Moments token_;  // of the per-token maxima
  double token_max_ = 0;
  Histogram token_hist_;
};

}  // namespace quench
