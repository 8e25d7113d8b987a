#pragma once
// Calibration statistics of an activation in one pass: per channel absmax, min, max, sum and sum
// of squares, and a histogram of all values over a symmetric range. On CUDA tensors this runs the
// quench_kernels kernel; on CPU tensors the loops in channel_stats.cpp (the reference the GPU
// tests compare against).
#include <ATen/ATen.h>

#include <cstdint>

namespace quench::ops {

struct ChannelStatsOptions {
  int64_t channel_dim = -1;  // which dim is the channel; other layouts are moved to last (a copy)
  int64_t bins = 0;          // histogram bins; 0: no histogram
  double hist_range = 0;     // the histogram covers [-hist_range, hist_range]; > 0 when bins > 0
};

// x viewed as [rows, C] with C = x.size(channel_dim), rows = numel / C.
struct ChannelStats {
  at::Tensor absmax, min, max;  // float32 [C]; NaN values are ignored (fmin/fmax)
  at::Tensor sum, sumsq;        // float64 [C]
  // int64 [bins]: bin = floor((v + range) · bins / (2·range)) clamped to [0, bins-1], computed in
  // float32 exactly as written (so CPU and GPU agree bit for bit); values beyond the range land in
  // the edge bins, NaN in none. Undefined when bins == 0.
  at::Tensor histogram;
  int64_t rows = 0;
};

// x: float32, float16 or bfloat16, at least 1-D, on CPU or CUDA; results on x's device.
ChannelStats channel_stats(const at::Tensor& x, const ChannelStatsOptions& opt = {});

// Same, into caller-provided tensors (shapes and dtypes as above, on x's device, contiguous);
// every element of each is written. out.histogram is only touched when opt.bins > 0.
void channel_stats_out(const at::Tensor& x, const ChannelStatsOptions& opt, ChannelStats& out);

}  // namespace quench::ops
