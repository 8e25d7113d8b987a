#pragma once
// Statistics to and from JSON (readable, for export and the CLI) and a compact binary blob (for
// the experiment store's BLOB columns), plus the summary the store keeps as plain columns.
//
// Blob layout, version 1. Little-endian throughout; the reader checks every length against the
// blob's size and throws quench::Error naming the offset.
//   header      4 bytes "QSTB", u8 version (1), u8 kind (1 = ActivationStats, 2 = WeightStats)
//   str         u32 byte length, UTF-8 bytes
//   i64[]/f64[] u64 count, count × i64 / f64 (IEEE 754 binary64)
//   Histogram   u8 range (0 Symmetric, 1 NonNegative), f64 limit, u64 bins, bins × i64 counts
//   Percentiles f64 p99, p99_9, p99_99, p99_999
//   Distribution  i64 count, f64 min, max, absmax, mean, std, skewness, kurtosis, Histogram, Percentiles
//   Outliers    f64 multiple, f64 median_absmax, u64 n, n × (i64 channel, f64 absmax, f64 ratio)
//   kind 1  str point, i64 channel_dim, i64[] shape, i64 batches, i64 nonfinite, i64 nonfinite_batches,
//           Distribution all, i64 channels, f64[] channel_min, channel_max, channel_absmax, channel_mean,
//           channel_std, token max {i64 count, f64 max, f64 mean, f64 std, Histogram, Percentiles}, Outliers
//   kind 2  str layer, u8 layer kind (0 Linear, 1 Conv1d, 2 Conv2d, 3 Embedding), i64[] shape,
//           Distribution all, f64[] out_min, out_max, out_absmax, out_std, in_absmax, in_std, Outliers
// A 2048-bin histogram is 16 KiB, so a point's blob is about 33 KiB plus 40 bytes per channel.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/stats/calibrate.h"
#include "core/stats/histogram.h"
#include "core/stats/streaming_stats.h"
#include "core/stats/weight_stats.h"

namespace quench {

constexpr uint8_t kStatsBlobVersion = 1;

// What the store keeps per point or layer as columns, to sort and filter without reading blobs.
struct StatsSummary {
  std::string name;      // point ("…:input") or layer name
  bool weight = false;   // a layer's weight statistics rather than a point's activations
  int64_t count = 0;     // values seen
  double absmax = 0, std = 0, p99_99 = 0, kurtosis = 0;  // p99_99 of |x|; kurtosis Pearson's
  int64_t outlier_channels = 0;
};
StatsSummary summarize(const ActivationStats& s);
StatsSummary summarize(const WeightStats& s);
nlohmann::json to_json(const StatsSummary& s);

nlohmann::json to_json(const Histogram& h);  // {"range", "limit", "edges", "counts"}
Histogram histogram_from_json(const nlohmann::json& j);

nlohmann::json to_json(const ActivationStats& s);
ActivationStats activation_stats_from_json(const nlohmann::json& j);
nlohmann::json to_json(const WeightStats& s);
WeightStats weight_stats_from_json(const nlohmann::json& j);
// {"samples", "batches", "tokens", "seconds", "warnings", "points": [...], "weights": [...]}
nlohmann::json to_json(const CalibrationResult& r);

std::vector<uint8_t> to_blob(const ActivationStats& s);
std::vector<uint8_t> to_blob(const WeightStats& s);
ActivationStats activation_stats_from_blob(const std::vector<uint8_t>& blob);
WeightStats weight_stats_from_blob(const std::vector<uint8_t>& blob);

}  // namespace quench
