#pragma once
// The observer a calibration installs: one StreamingStats per matching point, made the first time
// the point is seen, so only points a forward pass reaches cost memory. Called from the thread
// running the forward pass; not thread-safe, and need not be (one forward at a time).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/nn/hooks.h"
#include "core/stats/point_pattern.h"
#include "core/stats/streaming_stats.h"
#include "core/stats/workspace.h"

namespace quench {

class CalibrationObserver : public Observer {
 public:
  CalibrationObserver(PointPattern pattern, StatsOptions opts = {});

  void observe(const std::string& point, const at::Tensor& t, int64_t channel_dim) override;

  const PointPattern& pattern() const { return pattern_; }
  // Points observed so far, in the order they were first seen (forward order).
  const std::vector<std::string>& points() const { return order_; }
  const StreamingStats* find(const std::string& point) const;
  ActivationStats result(const std::string& point) const;  // throws for a point never seen
  // Bytes held by all the statistics plus the shared scratch: grows with the points seen (and
  // the scratch with the largest tensor), not with the number of batches.
  size_t memory_bytes() const;
  size_t scratch_bytes() const { return ws_.bytes(); }

 private:
  PointPattern pattern_;
  StatsOptions opts_;
  std::map<std::string, bool> decided_;  // point → matches (each name is globbed once)
  std::map<std::string, std::unique_ptr<StreamingStats>> stats_;
  std::vector<std::string> order_;
  Workspace ws_;  // shared by every point: one tensor is reduced at a time
};

}  // namespace quench
