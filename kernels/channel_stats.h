#pragma once
// Calibration statistics of an activation in one pass over memory: per channel (last dim)
// absmax, min, max, sum and sum of squares, plus one histogram of all values.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct ChannelStatsParams {
  const void* x = nullptr;  // [rows, cols] of dtype, rows row_stride elements apart, channels contiguous
  DType dtype = DType::F32;   // F32, F16 or BF16
  int64_t rows = 0, cols = 0, row_stride = 0;

  // Outputs, [cols] each, all required; every element is written.
  float* absmax = nullptr;
  float* min = nullptr;
  float* max = nullptr;
  double* sum = nullptr;
  double* sumsq = nullptr;

  // Histogram of all values: bin = floor((v - hist_lo) * hist_scale) clamped to [0, bins-1], so
  // values beyond the range land in the edge bins; NaN lands nowhere. bins == 0: no histogram.
  int64_t bins = 0;
  float hist_lo = 0.f, hist_scale = 0.f;
  int64_t* histogram = nullptr;  // [bins], every element written

  void* workspace = nullptr;  // channel_stats_workspace_bytes(params) bytes, 16-byte aligned
};

// Workspace the launch needs (partial sums per row slice, histogram counters); depends on the
// sizes and the current device, so ask again for a new shape or device.
size_t channel_stats_workspace_bytes(const ChannelStatsParams& p);

Status channel_stats(const ChannelStatsParams& p, cudaStream_t stream);

}  // namespace quench::kernels
