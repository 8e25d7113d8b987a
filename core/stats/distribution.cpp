#include "core/stats/distribution.h"

#include <algorithm>
#include <cmath>

namespace quench {

AbsPercentiles abs_percentiles(const Histogram& h) {
  AbsPercentiles p;
  p.p99 = h.abs_percentile(99.0);
  p.p99_9 = h.abs_percentile(99.9);
  p.p99_99 = h.abs_percentile(99.99);
  p.p99_999 = h.abs_percentile(99.999);
  return p;
}

Distribution make_distribution(const Moments& m, double min, double max, Histogram h) {
  Distribution d;
  d.count = static_cast<int64_t>(m.n);
  d.min = min;
  d.max = max;
  d.absmax = std::max(std::abs(min), std::abs(max));
  d.mean = m.mean;
  d.std = m.std();
  d.skewness = m.skewness();
  d.kurtosis = m.kurtosis();
  d.percentiles = abs_percentiles(h);
  d.histogram = std::move(h);
  return d;
}

}  // namespace quench
