// The per-point and per-layer summaries of serialize.h: what the store keeps as columns.
#include "core/stats/serialize.h"

namespace quench {

StatsSummary summarize(const ActivationStats& s) {
  StatsSummary m;
  m.name = s.point;
  m.weight = false;
  m.count = s.all.count;
  m.absmax = s.all.absmax;
  m.std = s.all.std;
  m.p99_99 = s.all.percentiles.p99_99;
  m.kurtosis = s.all.kurtosis;
  m.outlier_channels = static_cast<int64_t>(s.outliers.channels.size());
  return m;
}

StatsSummary summarize(const WeightStats& s) {
  StatsSummary m;
  m.name = s.layer;
  m.weight = true;
  m.count = s.all.count;
  m.absmax = s.all.absmax;
  m.std = s.all.std;
  m.p99_99 = s.all.percentiles.p99_99;
  m.kurtosis = s.all.kurtosis;
  m.outlier_channels = static_cast<int64_t>(s.outliers.channels.size());
  return m;
}

nlohmann::json to_json(const StatsSummary& s) {
  return {{"name", s.name},     {"weight", s.weight}, {"count", s.count},       {"absmax", s.absmax},
          {"std", s.std},       {"p99_99", s.p99_99}, {"kurtosis", s.kurtosis}, {"outlier_channels", s.outlier_channels}};
}

}  // namespace quench
