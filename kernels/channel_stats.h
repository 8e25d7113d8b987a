#pragma once
// Calibration statistics of an activation in one pass over memory: per channel (last dim)
// absmax, min, max and power sums, plus one histogram of all values and, optionally, each row's
// absmax (a token's largest |x|).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

struct ChannelStatsParams {
  const void* x = nullptr;  // [rows, cols] of dtype, rows row_stride elements apart, channels contiguous
  DType dtype = DType::F32;   // F32, F16 or BF16
  int64_t rows = 0, cols = 0, row_stride = 0;

  // Power sums are of d = x - shift[c]; shift == nullptr means 0. A shift near each channel's
  // mean keeps the central moments derived from them well conditioned (float partials).
  const float* shift = nullptr;  // [cols] or nullptr

  // Outputs, [cols] each; absmax..sumsq required, every element written.
  float* absmax = nullptr;
  float* min = nullptr;
  float* max = nullptr;
  double* sum = nullptr;    // Σ d
  double* sumsq = nullptr;  // Σ d²
  double* sum3 = nullptr;   // Σ d³, optional (with sum4: both or neither)
  double* sum4 = nullptr;   // Σ d⁴, optional

  // Optional, [rows]: max over the row's channels of |x| (NaN ignored); every element written.
  float* row_absmax = nullptr;

  // Histogram of all values: bin = floor(fma(v, hist_scale, hist_offset)) clamped to
  // [0, bins-1], so values beyond the range land in the edge bins; NaN lands nowhere.
  // bins == 0: no histogram.
  int64_t bins = 0;
  float hist_scale = 0.f, hist_offset = 0.f;
  int64_t* histogram = nullptr;  // [bins], every element written

  void* workspace = nullptr;  // channel_stats_workspace_bytes(params) bytes, 16-byte aligned
};

// Workspace the launch needs (partial sums per row slice, histogram counters); depends on the
// sizes and the current device, so ask again for a new shape or device.
size_t channel_stats_workspace_bytes(const ChannelStatsParams& p);

Status channel_stats(const ChannelStatsParams& p, cudaStream_t stream);

}  // namespace quench::kernels
