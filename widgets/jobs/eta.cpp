#include "widgets/jobs/eta.h"

namespace quench::gui {

double EtaEstimator::remaining(double elapsed_seconds, int64_t done, int64_t total) {
  if (total <= 0 || done <= 0 || done > total) return -1;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  if (fraction < kMinFraction || elapsed_seconds < kMinElapsedSeconds) return -1;
  return elapsed_seconds * (1.0 - fraction) / fraction;
}

}  // namespace quench::gui
