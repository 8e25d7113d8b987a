#pragma once
// Outlier channels: the few input channels whose magnitude dwarfs the rest (LLM.int8, SmoothQuant,
// AWQ all start from them). Rule: a channel is an outlier when its absmax exceeds `multiple` times
// the median channel absmax; a median of 0 (mostly dead channels) flags nothing, since no ratio
// can be formed, and the report says so through median_absmax = 0.
#include <cstdint>
#include <vector>

namespace quench {

struct OutlierChannel {
  int64_t channel = 0;
  double absmax = 0;
  double ratio = 0;  // absmax / median channel absmax
};

struct OutlierReport {
  double multiple = 0;       // the threshold used
  double median_absmax = 0;  // median over channels of the per-channel absmax
  std::vector<OutlierChannel> channels;  // largest absmax first
};

// 4×: on the hf-tiny fixtures the planted ×8 channels sit at 5.6–11× the median and no other
// channel passes 1.8×; LLM activation outliers (massive activations) are far above it.
constexpr double kDefaultOutlierMultiple = 4.0;

OutlierReport find_outlier_channels(const std::vector<double>& channel_absmax, double multiple);

}  // namespace quench
