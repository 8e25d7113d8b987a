#pragma once
// Calibration statistics of an activation in one pass: per channel absmax, min, max, sum and sum
// of squares (optionally of x − shift, and up to fourth powers), a histogram of all values over a
// symmetric range, and optionally each row's absmax. On CUDA tensors this runs the
// quench_kernels kernel; on CPU tensors the loops in channel_stats.cpp (the reference the GPU
// tests compare against).
#include <ATen/ATen.h>

#include <cstdint>

namespace quench::ops {

struct ChannelStatsOptions {
  int64_t channel_dim = -1;  // which dim is the channel; other layouts are moved to last (a copy)
  int64_t bins = 0;          // histogram bins; 0: no histogram
  double hist_range = 0;     // the histogram covers [-hist_range, hist_range]; > 0 when bins > 0
  // Optional float32 [C] on x's device: the power sums are of d = x − shift[c] (a shift near each
  // channel's mean keeps central moments derived from them accurate). Undefined: 0.
  at::Tensor shift;
  bool higher = false;      // also Σ d³ and Σ d⁴
  bool row_absmax = false;  // also max over channels of |x| for every row
};

// x viewed as [rows, C] with C = x.size(channel_dim), rows = numel / C.
struct ChannelStats {
  at::Tensor absmax, min, max;  // float32 [C]; NaN values are ignored (fmin/fmax)
  at::Tensor sum, sumsq;        // float64 [C]: Σ d, Σ d² (d = x − shift, x without a shift)
  at::Tensor sum3, sum4;        // float64 [C]: Σ d³, Σ d⁴; undefined unless opt.higher
  at::Tensor row_absmax;        // float32 [rows]; undefined unless opt.row_absmax
  // int64 [bins]: bin = floor(fma(v, scale, bins/2)) with scale = float32(bins / (2·range)),
  // clamped to [0, bins-1] (so CPU and GPU agree bit for bit, and with quench::Histogram's
  // binning of the same range); values beyond the range land in the edge bins, NaN in none.
  // Undefined when bins == 0.
  at::Tensor histogram;
  int64_t rows = 0;
};

// True when channel_stats(x) runs the CUDA kernel: x on a GPU, a float32/float16/bfloat16 tensor,
// and this build has the kernels.
bool channel_stats_on_kernel(const at::Tensor& x);

// x: float32, float16 or bfloat16, at least 1-D, on CPU or CUDA; results on x's device.
ChannelStats channel_stats(const at::Tensor& x, const ChannelStatsOptions& opt = {});

// Same, into caller-provided tensors (shapes and dtypes as above, on x's device, contiguous);
// every element of each is written. out.histogram, sum3/sum4 and row_absmax are only touched
// when asked for.
void channel_stats_out(const at::Tensor& x, const ChannelStatsOptions& opt, ChannelStats& out);

}  // namespace quench::ops
