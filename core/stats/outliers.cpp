#include "core/stats/outliers.h"

#include <algorithm>

#include "core/util/error.h"

namespace quench {

OutlierReport find_outlier_channels(const std::vector<double>& channel_absmax, double multiple) {
  QUENCH_CHECK(multiple > 0, "outlier multiple must be positive, got ", multiple);
  OutlierReport r;
  r.multiple = multiple;
  if (channel_absmax.empty()) return r;
  std::vector<double> sorted = channel_absmax;
  const size_t n = sorted.size(), mid = n / 2;
  std::nth_element(sorted.begin(), sorted.begin() + mid, sorted.end());
  double median = sorted[mid];
  if (n % 2 == 0) median = (median + *std::max_element(sorted.begin(), sorted.begin() + mid)) / 2;
  r.median_absmax = median;
  if (median <= 0) return r;
  const double threshold = multiple * median;
  for (size_t i = 0; i < n; ++i)
    if (channel_absmax[i] > threshold)
      r.channels.push_back({static_cast<int64_t>(i), channel_absmax[i], channel_absmax[i] / median});
  std::sort(r.channels.begin(), r.channels.end(), [](const auto& a, const auto& b) {
    return a.absmax != b.absmax ? a.absmax > b.absmax : a.channel < b.channel;
  });
  return r;
}

}  // namespace quench
