// Statistics survive JSON and blob round trips bit for bit; damaged blobs are refused with context.
#include <gtest/gtest.h>

#include "core/models/registry.h"
#include "core/stats/serialize.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

const CalibrationResult& mamba_result() {
  static const CalibrationResult r = [] {
    auto model = load_model(test::fixture("hf-tiny/mamba-tiny"));
    int left = 2;
    return calibrate(*model, [&]() -> std::optional<ModelInputs> {
      if (left-- == 0) return std::nullopt;
      ModelInputs in;
      in.input_ids = at::randint(0, 512, {2, 12}, at::kLong);
      return in;
    }, {});
  }();
  return r;
}

TEST(StatsSerialize, ActivationStatsRoundTripThroughJsonAndBlob) {
  for (const auto& s : mamba_result().points) {
    SCOPED_TRACE(s.point);
    const nlohmann::json j = to_json(s);
    EXPECT_EQ(to_json(activation_stats_from_json(nlohmann::json::parse(j.dump()))), j);
    const auto blob = to_blob(s);
    const ActivationStats back = activation_stats_from_blob(blob);
    EXPECT_EQ(to_json(back), j);
    EXPECT_EQ(back.all.histogram.counts(), s.all.histogram.counts());
    EXPECT_EQ(back.channel_std, s.channel_std);
    // 2 histograms of 2048 bins, 5 per-channel arrays, a few hundred bytes of the rest.
    EXPECT_LT(blob.size(), 2 * 2048 * 8 + 5 * 8 * s.channels + 600 + 24 * s.outliers.channels.size());
  }
}

TEST(StatsSerialize, WeightStatsRoundTripThroughJsonAndBlob) {
  ASSERT_FALSE(mamba_result().weights.empty());
  for (const auto& s : mamba_result().weights) {
    SCOPED_TRACE(s.layer);
    const nlohmann::json j = to_json(s);
    EXPECT_EQ(to_json(weight_stats_from_json(nlohmann::json::parse(j.dump()))), j);
    const WeightStats back = weight_stats_from_blob(to_blob(s));
    EXPECT_EQ(to_json(back), j);
    EXPECT_EQ(back.kind, s.kind);
  }
}

TEST(StatsSerialize, JsonCarriesHistogramEdgesAndSummaries) {
  const ActivationStats& s = *mamba_result().point("backbone.layers.0.mixer:x");
  const auto j = to_json(s);
  const auto& h = j["all"]["histogram"];
  EXPECT_EQ(h["edges"].size(), h["counts"].size() + 1);
  EXPECT_EQ(h["edges"].front().get<double>(), -s.all.histogram.limit());
  EXPECT_EQ(j["channel_absmax"].size(), static_cast<size_t>(s.channels));

  const StatsSummary m = summarize(s);
  EXPECT_EQ(m.name, "backbone.layers.0.mixer:x");
  EXPECT_FALSE(m.weight);
  EXPECT_EQ(m.absmax, s.all.absmax);
  EXPECT_EQ(m.p99_99, s.all.percentiles.p99_99);
  EXPECT_LE(m.p99_99, m.absmax);
  EXPECT_EQ(m.kurtosis, s.all.kurtosis);
  const StatsSummary w = summarize(*mamba_result().weight("backbone.layers.0.mixer.out_proj"));
  EXPECT_TRUE(w.weight);
  EXPECT_EQ(w.outlier_channels, 2);
  EXPECT_EQ(to_json(w)["outlier_channels"], 2);

  const auto all = to_json(mamba_result());
  EXPECT_EQ(all["points"].size(), mamba_result().points.size());
  EXPECT_EQ(all["weights"].size(), mamba_result().weights.size());
}

TEST(StatsSerialize, DamagedBlobsAreRefused) {
  const auto blob = to_blob(mamba_result().points.front());
  for (size_t n : {size_t{0}, size_t{3}, size_t{6}, size_t{20}, blob.size() / 2, blob.size() - 1}) {
    std::vector<uint8_t> cut(blob.begin(), blob.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(activation_stats_from_blob(cut), Error) << n;
  }
  auto extra = blob;
  extra.push_back(0);
  EXPECT_THROW(activation_stats_from_blob(extra), Error);
  auto magic = blob;
  magic[0] = 'X';
  EXPECT_THROW(activation_stats_from_blob(magic), Error);
  auto version = blob;
  version[4] = kStatsBlobVersion + 1;
  EXPECT_THROW(activation_stats_from_blob(version), Error);
  EXPECT_THROW(weight_stats_from_blob(blob), Error);  // an activation blob is not a weight blob
  auto huge = blob;  // the shape array's count claims far more elements than the blob holds
  const size_t shape_count = 6 + 4 + blob[6] + 8;  // header, point string, channel_dim
  for (int i = 0; i < 8; ++i) huge[shape_count + i] = 0xff;
  try {
    activation_stats_from_blob(huge);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
