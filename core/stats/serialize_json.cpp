// Statistics as JSON: every field, histogram edges and counts included (serialize.h).
#include <string>

#include "core/stats/serialize.h"
#include "core/util/error.h"

namespace quench {

namespace {

using nlohmann::json;

const char* range_name(Histogram::Range r) { return r == Histogram::Range::Symmetric ? "symmetric" : "nonnegative"; }

Histogram::Range range_from(const std::string& s) {
  if (s == "symmetric") return Histogram::Range::Symmetric;
  if (s == "nonnegative") return Histogram::Range::NonNegative;
  fail("statistics JSON: unknown histogram range '", s, "'");
}

LayerKind kind_from(const std::string& s) {
  for (LayerKind k : {LayerKind::Linear, LayerKind::Conv1d, LayerKind::Conv2d, LayerKind::Embedding})
    if (s == kind_name(k)) return k;
  fail("statistics JSON: unknown layer kind '", s, "'");
}

// Reads a required key with a message naming it (nlohmann's own errors do not say which key).
const json& at(const json& j, const char* key) {
  QUENCH_CHECK(j.is_object() && j.contains(key), "statistics JSON: missing key '", key, "'");
  return j.at(key);
}

json to_json(const AbsPercentiles& p) { return {{"p99", p.p99}, {"p99_9", p.p99_9}, {"p99_99", p.p99_99}, {"p99_999", p.p99_999}}; }

AbsPercentiles percentiles_from(const json& j) {
  return {at(j, "p99").get<double>(), at(j, "p99_9").get<double>(), at(j, "p99_99").get<double>(), at(j, "p99_999").get<double>()};
}

json to_json(const Distribution& d) {
  return {{"count", d.count},       {"min", d.min},           {"max", d.max},
          {"absmax", d.absmax},     {"mean", d.mean},         {"std", d.std},
          {"skewness", d.skewness}, {"kurtosis", d.kurtosis}, {"percentiles", to_json(d.percentiles)},
          {"histogram", to_json(d.histogram)}};
}

Distribution distribution_from(const json& j) {
  Distribution d;
  d.count = at(j, "count").get<int64_t>();
  d.min = at(j, "min").get<double>();
  d.max = at(j, "max").get<double>();
  d.absmax = at(j, "absmax").get<double>();
  d.mean = at(j, "mean").get<double>();
  d.std = at(j, "std").get<double>();
  d.skewness = at(j, "skewness").get<double>();
  d.kurtosis = at(j, "kurtosis").get<double>();
  d.percentiles = percentiles_from(at(j, "percentiles"));
  d.histogram = histogram_from_json(at(j, "histogram"));
  return d;
}

json to_json(const OutlierReport& o) {
  json ch = json::array();
  for (const auto& c : o.channels) ch.push_back({{"channel", c.channel}, {"absmax", c.absmax}, {"ratio", c.ratio}});
  return {{"multiple", o.multiple}, {"median_absmax", o.median_absmax}, {"channels", ch}};
}

OutlierReport outliers_from(const json& j) {
  OutlierReport o;
  o.multiple = at(j, "multiple").get<double>();
  o.median_absmax = at(j, "median_absmax").get<double>();
  for (const auto& c : at(j, "channels"))
    o.channels.push_back({at(c, "channel").get<int64_t>(), at(c, "absmax").get<double>(), at(c, "ratio").get<double>()});
  return o;
}

}  // namespace

json to_json(const Histogram& h) {
  return {{"range", range_name(h.range())}, {"limit", h.limit()}, {"edges", h.edges()}, {"counts", h.counts()}};
}

Histogram histogram_from_json(const json& j) {
  return Histogram::from_parts(range_from(at(j, "range").get<std::string>()), at(j, "limit").get<double>(),
                               at(j, "counts").get<std::vector<int64_t>>());
}

json to_json(const ActivationStats& s) {
  const auto& t = s.token_max;
  return {{"point", s.point},
          {"channel_dim", s.channel_dim},
          {"shape", s.shape},
          {"batches", s.batches},
          {"nonfinite", s.nonfinite},
          {"nonfinite_batches", s.nonfinite_batches},
          {"all", to_json(s.all)},
          {"channels", s.channels},
          {"channel_min", s.channel_min},
          {"channel_max", s.channel_max},
          {"channel_absmax", s.channel_absmax},
          {"channel_mean", s.channel_mean},
          {"channel_std", s.channel_std},
          {"token_max",
           {{"count", t.count}, {"max", t.max}, {"mean", t.mean}, {"std", t.std}, {"histogram", to_json(t.histogram)},
            {"percentiles", to_json(t.percentiles)}}},
          {"outliers", to_json(s.outliers)}};
}

ActivationStats activation_stats_from_json(const json& j) {
  ActivationStats s;
  s.point = at(j, "point").get<std::string>();
  s.channel_dim = at(j, "channel_dim").get<int64_t>();
  s.shape = at(j, "shape").get<std::vector<int64_t>>();
  s.batches = at(j, "batches").get<int64_t>();
  s.nonfinite = at(j, "nonfinite").get<int64_t>();
  s.nonfinite_batches = at(j, "nonfinite_batches").get<int64_t>();
  s.all = distribution_from(at(j, "all"));
  s.channels = at(j, "channels").get<int64_t>();
  s.channel_min = at(j, "channel_min").get<std::vector<double>>();
  s.channel_max = at(j, "channel_max").get<std::vector<double>>();
  s.channel_absmax = at(j, "channel_absmax").get<std::vector<double>>();
  s.channel_mean = at(j, "channel_mean").get<std::vector<double>>();
  s.channel_std = at(j, "channel_std").get<std::vector<double>>();
  const json& t = at(j, "token_max");
  s.token_max.count = at(t, "count").get<int64_t>();
  s.token_max.max = at(t, "max").get<double>();
  s.token_max.mean = at(t, "mean").get<double>();
  s.token_max.std = at(t, "std").get<double>();
  s.token_max.histogram = histogram_from_json(at(t, "histogram"));
  s.token_max.percentiles = percentiles_from(at(t, "percentiles"));
  s.outliers = outliers_from(at(j, "outliers"));
  return s;
}

json to_json(const WeightStats& s) {
  return {{"layer", s.layer},         {"kind", kind_name(s.kind)},   {"shape", s.shape},
          {"all", to_json(s.all)},    {"out_min", s.out_min},        {"out_max", s.out_max},
          {"out_absmax", s.out_absmax}, {"out_std", s.out_std},      {"in_absmax", s.in_absmax},
          {"in_std", s.in_std},       {"outliers", to_json(s.outliers)}};
}

WeightStats weight_stats_from_json(const json& j) {
  WeightStats s;
  s.layer = at(j, "layer").get<std::string>();
  s.kind = kind_from(at(j, "kind").get<std::string>());
  s.shape = at(j, "shape").get<std::vector<int64_t>>();
  s.all = distribution_from(at(j, "all"));
  s.out_min = at(j, "out_min").get<std::vector<double>>();
  s.out_max = at(j, "out_max").get<std::vector<double>>();
  s.out_absmax = at(j, "out_absmax").get<std::vector<double>>();
  s.out_std = at(j, "out_std").get<std::vector<double>>();
  s.in_absmax = at(j, "in_absmax").get<std::vector<double>>();
  s.in_std = at(j, "in_std").get<std::vector<double>>();
  s.outliers = outliers_from(at(j, "outliers"));
  return s;
}

json to_json(const CalibrationResult& r) {
  json points = json::array(), weights = json::array();
  for (const auto& p : r.points) points.push_back(to_json(p));
  for (const auto& w : r.weights) weights.push_back(to_json(w));
  return {{"samples", r.samples}, {"batches", r.batches}, {"tokens", r.tokens}, {"seconds", r.seconds},
          {"observer_bytes", r.observer_bytes}, {"warnings", r.warnings}, {"points", points}, {"weights", weights}};
}

}  // namespace quench
