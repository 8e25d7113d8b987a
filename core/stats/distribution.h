#pragma once
// The summary of one distribution of values (a tensor's, or a point's over a whole calibration):
// what the store keeps as columns and the GUI shows next to the histogram.
#include <cstdint>

#include "core/stats/histogram.h"
#include "core/stats/moments.h"

namespace quench {

// Percentiles of |x| read from a Symmetric histogram (within one bin width of the exact ones).
// 99.99 and 99.999 are what percentile clipping (Quamba) picks a scale from.
struct AbsPercentiles {
  double p99 = 0, p99_9 = 0, p99_99 = 0, p99_999 = 0;
};
AbsPercentiles abs_percentiles(const Histogram& h);

struct Distribution {
  int64_t count = 0;  // values
  double min = 0, max = 0, absmax = 0;
  double mean = 0, std = 0;  // std: population (÷ count)
  double skewness = 0;
  double kurtosis = 0;  // Pearson's: 3 for a normal distribution; heavy tails give more
  Histogram histogram;  // Symmetric, over [-limit, limit]
  AbsPercentiles percentiles;
};

// Assembles the summary from merged moments, the extremes and the histogram (percentiles derived).
Distribution make_distribution(const Moments& m, double min, double max, Histogram h);

}  // namespace quench
