// quench-cli with pruning and low rank, end to end and small: bad prune/lowrank settings fail with
// one line naming the key and the layer before anything is recorded; a run reports and records
// sparsity, rank and parameters per layer; the sensitivity command's sparsity budget is checked.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "core/store/store.h"

using namespace quench;
using nlohmann::json;
using test::run_cli;

namespace {

using test::contains;

TEST(PruneCli, BadSettingsFailWithOneLineNamingKeyAndLayer) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  const std::vector<std::pair<json, std::vector<std::string>>> cases = {
      {{{"default", {{"prune", {{"sparsity", 1}}}}}}, {"default.prune.sparsity", "below 1"}},
      {{{"default", {{"prune", {{"pattern", "3:2"}}}}}}, {"default.prune.pattern", "N (3 kept) is larger than M (2)"}},
      {{{"overrides", {{{"match", "*.self_attn.k_proj"}, {"lowrank", {{"rank", 129}}}}}}},
       {"overrides[0].lowrank.rank", "larger than min(out, in) = 128", "model.layers.0.self_attn.k_proj"}},
      {{{"overrides", {{{"match", "*.down_proj"}, {"prune", {{"pattern", "1:32"}}}}}}}, {"overrides[0].prune.pattern", "model.layers.0.mlp.down_proj"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = test::write_json(tmp, "bad" + std::to_string(i) + ".json", cases[i].first);
    const auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", path, "--db", db});
    EXPECT_EQ(r.code, 1) << i << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const auto& part : cases[i].second) EXPECT_TRUE(contains(r.err, part)) << i << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(PruneCli, ReportsAndRecordsSparsityRankAndParameters) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  const std::string recipe = test::write_json(tmp, "r.json", json::parse(R"({"name": "24-and-rank",
      "default": {"prune": {"pattern": "2:4"}},
      "overrides": [{"match": "*.q_proj", "prune": null, "lowrank": {"rank": 8}}]})"));
  const auto plan = run_cli({"compress", test::demo("sotu-llama"), "--recipe", recipe, "--plan"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_TRUE(contains(plan.out, "2:4 magnitude")) << plan.out;
  EXPECT_TRUE(contains(plan.out, "rank 8 svd")) << plan.out;
  EXPECT_TRUE(contains(plan.out, "parameters")) << plan.out;
  // Neither magnitude nor SVD needs calibration data; the run measures output errors on it.
  const auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", recipe, "--calib", test::demo("sotu-calib.txt"),
                          "--samples", "2", "--seq", "32", "--db", db, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 42u);
  for (const auto& l : j["layers"]) {
    const std::string name = l["layer"];
    if (contains(name, "q_proj")) {
      EXPECT_EQ(l["rank"], 8) << name;
      EXPECT_EQ(l["params_after"], 8 * (256 + 256)) << name;
    } else {
      EXPECT_DOUBLE_EQ(l["sparsity"].get<double>(), 0.5) << name;
      EXPECT_EQ(l["params_after"].get<int64_t>() * 2, l["params_before"].get<int64_t>()) << name;
    }
  }
  EXPECT_LT(j["size"]["stored_params"].get<int64_t>(), j["size"]["original_params"].get<int64_t>());
  Store store = Store::open(db);
  const auto rows = store.get(j["experiment_id"].get<int64_t>()).layers;
  ASSERT_EQ(rows.size(), 42u);
  for (const auto& row : rows) EXPECT_TRUE(row.sparsity.has_value() || row.rank.has_value()) << row.layer;
}

TEST(PruneCli, SparsityBudgetNeedsCandidatesAndExcludesBits) {
  test::TempDir tmp;
  const std::vector<std::string> base = {"sensitivity", test::fixture("hf-tiny/llama-tiny"), "--setting", R"({"prune": {"pattern": "2:4"}})",
                                         "--eval", test::demo("sotu-2000-2023.txt"), "--max-windows", "2", "--db", tmp.file("q.db")};
  auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a);
  };
  auto r = with({"--budget-sparsity", "0.5"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "--budget-sparsity needs --candidates")) << r.err;
  r = with({"--budget-sparsity", "1.5", "--candidate", R"({"prune": {"pattern": "1:4"}})"});
  EXPECT_EQ(r.code, 2) << r.err;
  r = with({"--budget-sparsity", "0.5", "--budget", "4", "--candidate", R"({"prune": {"pattern": "1:4"}})"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "not both")) << r.err;
}

}  // namespace
