// The weight statistics cache: an entry reads back exactly what was stored, a changed checkpoint
// file or other options miss, and a broken entry is a miss that names and removes the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/models/registry.h"
#include "core/stats/weight_stats.h"
#include "core/stats/weight_stats_cache.h"
#include "test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

struct CacheFixture : ::testing::Test {
  test::TempDir tmp;
  fs::path model_dir, cache_dir;
  std::shared_ptr<Model> model;
  std::vector<WeightStats> stats;

  void SetUp() override {
    model_dir = fs::path(tmp.file("llama-tiny"));
    fs::copy(test::fixture("hf-tiny/llama-tiny"), model_dir, fs::copy_options::recursive);
    cache_dir = fs::path(tmp.file("cache"));
    LoadOptions opts;
    opts.materialize = false;
    model = load_model(model_dir.string(), opts);
    for (const auto& l : model->layers()) stats.push_back(weight_stats(*l));
  }
};

void expect_same(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) << i;
}

TEST_F(CacheFixture, AnEntryReadsBackExactly) {
  const std::string key = weight_stats_key(model->checkpoint(), StatsOptions{});
  EXPECT_FALSE(load_weight_stats(cache_dir, key).has_value());  // nothing yet
  store_weight_stats(cache_dir, key, stats);
  const auto back = load_weight_stats(cache_dir, key);
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->size(), stats.size());
  for (size_t i = 0; i < stats.size(); ++i) {
    const WeightStats &a = stats[i], &b = (*back)[i];
    EXPECT_EQ(a.layer, b.layer);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.all.kurtosis, b.all.kurtosis);
    EXPECT_EQ(a.all.absmax, b.all.absmax);
    EXPECT_EQ(a.all.histogram.counts(), b.all.histogram.counts());
    expect_same(a.in_absmax, b.in_absmax);
    expect_same(a.out_std, b.out_std);
    ASSERT_EQ(a.outliers.channels.size(), b.outliers.channels.size());
    for (size_t c = 0; c < a.outliers.channels.size(); ++c) EXPECT_EQ(a.outliers.channels[c].channel, b.outliers.channels[c].channel);
  }
}

TEST_F(CacheFixture, AChangedFileOrOtherOptionsAreANewKey) {
  const std::string key = weight_stats_key(model->checkpoint(), StatsOptions{});
  EXPECT_EQ(key, weight_stats_key(model->checkpoint(), StatsOptions{}));  // stable
  StatsOptions other;
  other.histogram_bins = 512;
  EXPECT_NE(key, weight_stats_key(model->checkpoint(), other));
  // Rewriting the weights (same size, a later time) changes the key: the old entry is not read.
  store_weight_stats(cache_dir, key, stats);
  for (const auto& e : fs::directory_iterator(model_dir))
    if (e.path().extension() == ".safetensors") fs::last_write_time(e.path(), fs::last_write_time(e.path()) + std::chrono::seconds(5));
  const std::string after = weight_stats_key(model->checkpoint(), StatsOptions{});
  EXPECT_NE(key, after);
  EXPECT_FALSE(load_weight_stats(cache_dir, after).has_value());
  // So does config.json.
  fs::last_write_time(model_dir / "config.json", fs::last_write_time(model_dir / "config.json") + std::chrono::seconds(5));
  EXPECT_NE(after, weight_stats_key(model->checkpoint(), StatsOptions{}));
}

// A model opened by a relative path (quench resources/demo/sotu-llama) has the same key as when
// opened by its absolute path; its shard paths were once joined to the folder a second time.
TEST_F(CacheFixture, ARelativelyOpenedModelHasTheSameKey) {
  const fs::path before = fs::current_path();
  fs::current_path(model_dir.parent_path());
  std::string relative_key;
  try {
    LoadOptions opts;
    opts.materialize = false;
    auto relative = load_model("llama-tiny", opts);
    relative_key = weight_stats_key(relative->checkpoint(), StatsOptions{});
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  fs::current_path(before);
  EXPECT_EQ(relative_key, weight_stats_key(model->checkpoint(), StatsOptions{}));
}

TEST_F(CacheFixture, ABrokenEntryIsAMissThatNamesAndRemovesIt) {
  const std::string key = weight_stats_key(model->checkpoint(), StatsOptions{});
  store_weight_stats(cache_dir, key, stats);
  const fs::path entry = cache_dir / (key + ".cbor");
  ASSERT_TRUE(fs::exists(entry));
  fs::resize_file(entry, fs::file_size(entry) / 2);  // cut short
  std::string problem;
  EXPECT_FALSE(load_weight_stats(cache_dir, key, &problem).has_value());
  EXPECT_NE(problem.find(entry.string()), std::string::npos) << problem;
  EXPECT_FALSE(fs::exists(entry));
  // An entry of another format version, or not CBOR at all, likewise.
  std::ofstream(entry) << "{\"format\": \"quench-weight-stats-0\"}";
  EXPECT_FALSE(load_weight_stats(cache_dir, key, &problem).has_value());
  EXPECT_FALSE(fs::exists(entry));
}

TEST_F(CacheFixture, AnUnwritableCacheFolderIsAnErrorNamingIt) {
  std::ofstream(tmp.file("not-a-folder")) << "x";
  const fs::path bad = fs::path(tmp.file("not-a-folder")) / "cache";
  try {
    store_weight_stats(bad, "k", stats);
    FAIL() << "stored into a path under a file";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
