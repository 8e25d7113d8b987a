#include "core/stats/calibration_observer.h"

#include "core/util/error.h"

namespace quench {

CalibrationObserver::CalibrationObserver(PointPattern pattern, StatsOptions opts) : pattern_(std::move(pattern)), opts_(opts) {}

void CalibrationObserver::observe(const std::string& point, const at::Tensor& t, int64_t channel_dim) {
  auto d = decided_.find(point);
  if (d == decided_.end()) d = decided_.emplace(point, pattern_.matches(point)).first;
  if (!d->second) return;
  auto& s = stats_[point];
  if (!s) {
    s = std::make_unique<StreamingStats>(opts_);
    order_.push_back(point);
  }
  s->add(t, channel_dim, point, &ws_);
}

const StreamingStats* CalibrationObserver::find(const std::string& point) const {
  auto it = stats_.find(point);
  return it == stats_.end() ? nullptr : it->second.get();
}

ActivationStats CalibrationObserver::result(const std::string& point) const {
  const StreamingStats* s = find(point);
  QUENCH_CHECK(s, "no statistics for point '", point, "' (never observed, or not matched by '", pattern_.str(), "')");
  return s->result(point);
}

size_t CalibrationObserver::memory_bytes() const {
  size_t b = sizeof(*this) + ws_.bytes();
  for (const auto& [name, s] : stats_) b += s->memory_bytes() + name.capacity();
  for (const auto& [name, m] : decided_) b += name.capacity() + sizeof(m) + 4 * sizeof(void*);  // map node overhead
  for (const auto& name : order_) b += name.capacity();
  return b;
}

}  // namespace quench
