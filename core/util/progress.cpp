#include "core/util/progress.h"

#include "core/util/error.h"

namespace quench {

void ProgressTracker::report(int64_t done, const std::string& message) {
  done_ = done;
  if (!cb_) return;
  double eta = -1;
  if (total_ > 0 && done_ > 0) eta = elapsed() * static_cast<double>(total_ - done_) / static_cast<double>(done_);
  if (!cb_(done_, total_, eta, message)) throw Cancelled();
}

}  // namespace quench
