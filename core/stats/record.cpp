#include "core/stats/record.h"

namespace quench {

namespace {
void distribution(LayerStats& ls, const Distribution& d) {
  ls.numel = d.count;
  ls.min = d.min;
  ls.max = d.max;
  ls.absmax = d.absmax;
  ls.mean = d.mean;
  ls.std = d.std;
  ls.kurtosis = d.kurtosis;
  ls.p99_99 = d.percentiles.p99_99;
  ls.extra["skewness"] = d.skewness;
  ls.extra["p99"] = d.percentiles.p99;
  ls.extra["p99_9"] = d.percentiles.p99_9;
  ls.extra["p99_999"] = d.percentiles.p99_999;
  ls.arrays["hist_counts"] = StatArray::from(d.histogram.counts());
  ls.arrays["hist_edges"] = StatArray::from(d.histogram.edges());
}

void outliers(LayerStats& ls, const OutlierReport& o) {
  ls.outliers = static_cast<int64_t>(o.channels.size());
  ls.extra["outlier_multiple"] = o.multiple;
  ls.extra["median_channel_absmax"] = o.median_absmax;
  std::vector<int64_t> idx;
  std::vector<double> mag;
  for (const auto& c : o.channels) {
    idx.push_back(c.channel);
    mag.push_back(c.absmax);
  }
  ls.arrays["outlier_channels"] = StatArray::from(idx);
  ls.arrays["outlier_absmax"] = StatArray::from(mag);
}
}  // namespace

LayerStats to_layer_stats(const ActivationStats& s, const std::string& layer) {
  LayerStats ls;
  ls.point = s.point;
  ls.layer = layer;
  distribution(ls, s.all);
  outliers(ls, s.outliers);
  ls.extra["channels"] = s.channels;
  ls.extra["channel_dim"] = s.channel_dim;
  ls.extra["nonfinite"] = s.nonfinite;
  ls.extra["token_max"] = {{"count", s.token_max.count}, {"max", s.token_max.max}, {"mean", s.token_max.mean},
                           {"std", s.token_max.std}, {"p99_99", s.token_max.percentiles.p99_99}};
  ls.arrays["channel_absmax"] = StatArray::from(s.channel_absmax);
  ls.arrays["channel_min"] = StatArray::from(s.channel_min);
  ls.arrays["channel_max"] = StatArray::from(s.channel_max);
  ls.arrays["channel_mean"] = StatArray::from(s.channel_mean);
  ls.arrays["channel_std"] = StatArray::from(s.channel_std);
  ls.arrays["token_max_counts"] = StatArray::from(s.token_max.histogram.counts());
  ls.arrays["token_max_edges"] = StatArray::from(s.token_max.histogram.edges());
  return ls;
}

LayerStats to_layer_stats(const WeightStats& s) {
  LayerStats ls;
  ls.point = s.layer + ".weight";
  ls.layer = s.layer;
  distribution(ls, s.all);
  outliers(ls, s.outliers);
  ls.extra["weight"] = true;
  ls.arrays["out_min"] = StatArray::from(s.out_min);
  ls.arrays["out_max"] = StatArray::from(s.out_max);
  ls.arrays["out_absmax"] = StatArray::from(s.out_absmax);
  ls.arrays["out_std"] = StatArray::from(s.out_std);
  ls.arrays["in_absmax"] = StatArray::from(s.in_absmax);
  ls.arrays["in_std"] = StatArray::from(s.in_std);
  return ls;
}

std::vector<LayerStats> to_layer_stats(const CalibrationResult& r) {
  std::vector<LayerStats> out;
  for (const auto& p : r.points) out.push_back(to_layer_stats(p, p.point.substr(0, p.point.rfind(':'))));
  for (const auto& w : r.weights) out.push_back(to_layer_stats(w));
  return out;
}

}  // namespace quench
