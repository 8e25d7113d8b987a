// Runs recorded in the experiment store by eval and calibrate, and compared.
#include <gtest/gtest.h>
#include "core/util/remove_tree.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_util.h"

namespace quench::test {
namespace {

struct Db {
  std::string dir = (std::filesystem::temp_directory_path() / ("quench-record-" + std::to_string(::getpid()))).string();
  std::string path = dir + "/runs.db";
  Db() { std::filesystem::create_directories(dir); }
  ~Db() { remove_tree(dir); }
};

TEST(Record, EvalRunsAreRecordedAndCompared) {
  Db db;
  const std::string model = demo("mnist-resnet");
  const std::vector<std::string> images = {"--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels",
                                           demo("mnist/test-labels-idx1-ubyte.gz")};
  auto run = [&](const std::string& n, const std::string& name) {
    std::vector<std::string> args = {"eval", model, "--max-images", n, "--json", "--db", db.path, "--name", name};
    args.insert(args.end(), images.begin(), images.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  auto a = run("100", "first 100"), b = run("300", "first 300");
  ASSERT_TRUE(a.contains("experiment") && b.contains("experiment"));
  const std::string ida = std::to_string(a["experiment"].get<int64_t>()), idb = std::to_string(b["experiment"].get<int64_t>());
  auto cmp = run_cli({"experiments", "compare", ida, idb, "--db", db.path});
  ASSERT_EQ(cmp.code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("top1"), std::string::npos) << cmp.out;
  EXPECT_NE(cmp.out.find("first 100"), std::string::npos) << cmp.out;
  auto cj = run_cli({"experiments", "compare", ida, idb, "--db", db.path, "--json"});
  ASSERT_EQ(cj.code, 0) << cj.err;
  EXPECT_NE(cj.out.find(std::to_string(b["value"].get<double>() - a["value"].get<double>()).substr(0, 6)), std::string::npos)
      << "the difference of the two top-1 values appears: " << cj.out;
  auto list = run_cli({"experiments", "list", "--db", db.path, "--json"});
  auto lj = nlohmann::json::parse(list.out);
  ASSERT_EQ(lj.size(), 2u);
  for (const auto& e : lj) {
    EXPECT_EQ(e["kind"], "evaluate");
    EXPECT_EQ(e["status"], "completed");
  }
  // --no-record leaves the store alone.
  std::vector<std::string> args = {"eval", model, "--max-images", "10", "--no-record", "--db", db.path};
  args.insert(args.end(), images.begin(), images.end());
  EXPECT_EQ(run_cli(args).code, 0);
  EXPECT_EQ(nlohmann::json::parse(run_cli({"experiments", "list", "--db", db.path, "--json"}).out).size(), 2u);
}

TEST(Record, CalibrateMamba2ScanInternals) {
  Db db;
  auto r = run_cli({"calibrate", demo("sotu-mamba2"), "--text", demo("sotu-calib.txt"), "--samples", "8", "--seq", "64",
                    "--points", "*mixer:*", "--db", db.path});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* what : {":x ", ":dt ", ":B ", ":C ", ":y "})
    EXPECT_NE(r.out.find(std::string("backbone.layers.7.mixer") + what), std::string::npos) << what << "\n" << r.out;
  auto show = run_cli({"experiments", "show", "1", "--db", db.path, "--json"});
  ASSERT_EQ(show.code, 0) << show.err;
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["kind"], "calibrate");
  int scan_points = 0;
  for (const auto& s : j["stats"])
    if (s["point"].get<std::string>().find(":y") != std::string::npos) ++scan_points;
  EXPECT_EQ(scan_points, 8);  // one per block
}

// The shared --calib spelling (job_inputs, as compress and sensitivity read it) records through
// core/runs/calibrate_run like --text: settings, dataset, metrics, one stats row per point with its
// arrays, and the weights of every layer.
TEST(Record, CalibrateWithSharedDataOptionsRecords) {
  Db db;
  auto r = run_cli({"calibrate", demo("sotu-llama"), "--calib", demo("sotu-calib.txt"), "--samples", "4", "--seq", "32", "--points",
                    "*mlp.down_proj:input", "--db", db.path, "--name", "down inputs"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("model.layers.5.mlp.down_proj:input"), std::string::npos) << r.out;
  auto show = run_cli({"experiments", "show", "1", "--db", db.path, "--json"});
  ASSERT_EQ(show.code, 0) << show.err;
  auto j = nlohmann::json::parse(show.out);
  EXPECT_EQ(j["kind"], "calibrate");
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["name"], "down inputs");
  EXPECT_EQ(j["recipe"]["calibrate"]["samples"], 4);
  EXPECT_EQ(j["recipe"]["calibrate"]["seq"], 32);
  EXPECT_EQ(j["recipe"]["calibrate"]["points"], "*mlp.down_proj:input");
  ASSERT_EQ(j["datasets"].size(), 1u);
  EXPECT_EQ(j["datasets"][0]["role"], "calib");
  std::map<std::string, double> metrics;
  for (const auto& m : j["metrics"]) metrics[m["name"].get<std::string>()] = m["value"].get<double>();
  EXPECT_EQ(metrics["samples"], 4);
  EXPECT_EQ(metrics["tokens"], 4 * 32);
  EXPECT_GT(metrics["peak_rss_mib"], 10);
  int points = 0, weights = 0;
  for (const auto& s : j["stats"]) {
    const std::string point = s["point"];
    if (point.find(':') == std::string::npos) {
      ++weights;
      continue;
    }
    ++points;
    EXPECT_EQ(s["layer"], point.substr(0, point.find(':')));
    EXPECT_GT(s["absmax"].get<double>(), 0) << point;
    EXPECT_LE(s["p99_99"].get<double>(), s["absmax"].get<double>() * (1 + 1e-6)) << point;
    const auto names = s["array_names"].dump();
    for (const char* a : {"hist_counts", "hist_edges", "channel_absmax", "outlier_channels"})
      EXPECT_NE(names.find(a), std::string::npos) << point << " " << a;
  }
  EXPECT_EQ(points, 6);    // one down_proj per block
  EXPECT_EQ(weights, 44);  // every layer's weights
  // Both spellings at once are refused.
  auto both = run_cli({"calibrate", demo("sotu-llama"), "--calib", demo("sotu-calib.txt"), "--text", demo("sotu-calib.txt"), "--no-record"});
  EXPECT_EQ(both.code, 2) << both.err;
}

TEST(Record, CalibrateJsonHasHistogramsAndImagesWork) {
  auto r = run_cli({"calibrate", demo("mnist-vit"), "--images", demo("mnist/calib-images-idx3-ubyte.gz"), "--samples", "64",
                    "--points", "vit.encoder.layer.0.*", "--json", "--no-record"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_FALSE(j["points"].empty());
  const auto& h = j["points"][0]["all"]["histogram"];
  EXPECT_EQ(h["edges"].size(), h["counts"].size() + 1);
  EXPECT_EQ(j["samples"], 64);
}

TEST(Record, CalibrateErrors) {
  auto none = run_cli({"calibrate", demo("sotu-llama"), "--text", demo("sotu-calib.txt"), "--points", "nothing*", "--no-record"});
  EXPECT_EQ(none.code, 2) << none.err;
  EXPECT_NE(none.err.find("nothing*"), std::string::npos) << none.err;
  auto wrong = run_cli({"calibrate", demo("sotu-llama"), "--images", demo("mnist/calib-images-idx3-ubyte.gz"), "--no-record"});
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.err.find("calibrate it with --text"), std::string::npos) << wrong.err;
}

}  // namespace
}  // namespace quench::test
