// The per-point and per-layer summaries of serialize.h: what the store keeps as columns.
#include "core/stats/serialize.h"

namespace quench {

namespace {
StatsSummary summary_of(const std::string& name, bool weight, const Distribution& d, const OutlierReport& o) {
  StatsSummary m;
  m.name = name;
  m.weight = weight;
  m.count = d.count;
  m.absmax = d.absmax;
  m.std = d.std;
  m.p99_99 = d.percentiles.p99_99;
  m.kurtosis = d.kurtosis;
  m.outlier_channels = static_cast<int64_t>(o.channels.size());
  return m;
}
}  // namespace

StatsSummary summarize(const ActivationStats& s) { return summary_of(s.point, false, s.all, s.outliers); }

StatsSummary summarize(const WeightStats& s) { return summary_of(s.layer, true, s.all, s.outliers); }

nlohmann::json to_json(const StatsSummary& s) {
  return {{"name", s.name},     {"weight", s.weight}, {"count", s.count},       {"absmax", s.absmax},
          {"std", s.std},       {"p99_99", s.p99_99}, {"kurtosis", s.kurtosis}, {"outlier_channels", s.outlier_channels}};
}

}  // namespace quench
