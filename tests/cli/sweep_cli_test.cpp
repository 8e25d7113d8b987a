// quench-cli sweep, run here (--local), end to end on sotu-llama with few windows. The same
// sweep through a real Slurm cluster is tests/slurm/sweep_slurm_test.py (ctest label slurm).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_util.h"

using namespace quench;
using test::contains;
using test::run_cli;

namespace {

nlohmann::json description(const test::TempDir& dir, int chunks) {
  return {{"name", "t"},
          {"model", test::demo("sotu-llama")},
          {"calib", test::demo("sotu-calib.txt")},
          {"samples", 4},
          {"seq", 64},
          {"eval", test::demo("sotu-2000-2023.txt")},
          {"ctx", 64},
          {"max_windows", 4},
          {"recipes", {"W4A16-G16", "W8A16"}},
          {"grid", {{"bits", {3}}, {"group_size", {16}}}},
          {"sensitivity", {{"setting", "W4A16-G16"}, {"chunks", chunks}, {"layers", {"model.layers.*.mlp.*"}}}}};
}

nlohmann::json list(const std::string& db) {
  const auto r = run_cli({"experiments", "list", "--db", db, "--json", "--sort", "name"});
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

nlohmann::json show(const std::string& db, int64_t id) {
  const auto r = run_cli({"experiments", "show", std::to_string(id), "--db", db, "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST(SweepCli, PlanListsTheJobsAndNamesBadKeys) {
  test::TempDir dir;
  const std::string desc = test::write_json(dir, "sweep.json", description(dir, 2));
  auto r = run_cli({"sweep", "plan", desc});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"t/W4A16-G16", "t/W8A16", "t/w3-g16-rtn", "t/sensitivity W4A16-G16 1/2", "t/sensitivity W4A16-G16 2/2", "5 tasks"})
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from\n" << r.out;

  auto bad = description(dir, 2);
  bad["recipes"].push_back("W5A16-bogus");
  r = run_cli({"sweep", "plan", test::write_json(dir, "bad.json", bad)});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "bad.json") && contains(r.err, "recipes[2]")) << r.err;

  bad = description(dir, 2);
  bad["sensitivity"]["chunks"] = 500;
  r = run_cli({"sweep", "plan", test::write_json(dir, "bad.json", bad)});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "sensitivity.chunks") && contains(r.err, "units")) << r.err;

  bad = description(dir, 2);
  bad["modle"] = "x";
  r = run_cli({"sweep", "plan", test::write_json(dir, "bad.json", bad)});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "'modle' is not a sweep key")) << r.err;
}

TEST(SweepCli, LocalSweepCollectsEachRunOnceAndTheMergedSensitivityEqualsOneRun) {
  test::TempDir dir;
  const std::string desc = test::write_json(dir, "sweep.json", description(dir, 2));
  const std::string sweep = dir.file("sweep"), db = dir.file("store.db");
  auto r = run_cli({"sweep", "run", desc, "--dir", sweep, "--db", db});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "[5/5]") && contains(r.out, "4 experiments added")) << r.out;
  auto runs = list(db);
  ASSERT_EQ(runs.size(), 4u);  // three recipes and one merged sensitivity analysis
  for (const auto& e : runs) EXPECT_EQ(e["status"], "completed");

  // Collecting again, or running the finished sweep again, adds nothing.
  r = run_cli({"sweep", "collect", sweep, "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0 experiments added, 4 already there")) << r.out;
  r = run_cli({"sweep", "run", desc, "--dir", sweep, "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "nothing to run")) << r.out;
  EXPECT_EQ(list(db).size(), 4u);

  r = run_cli({"sweep", "status", sweep});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "5 completed")) << r.out;

  // The same analysis in one run.
  r = run_cli({"sensitivity", test::demo("sotu-llama"), "--setting", "W4A16-G16", "--layers", "model.layers.*.mlp.*", "--eval",
               test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "4", "--db", dir.file("one.db"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto one = nlohmann::json::parse(r.out);
  int64_t merged_id = 0;
  for (const auto& e : runs)
    if (e["kind"] == "sensitivity") merged_id = e["id"];
  const auto merged = show(db, merged_id);
  const auto single = show(dir.file("one.db"), one["experiment_id"]);
  ASSERT_EQ(merged["layers"].size(), single["layers"].size());
  ASSERT_EQ(merged["layers"].size(), 18u);  // 6 blocks × gate, up, down
  for (size_t i = 0; i < single["layers"].size(); ++i) {
    EXPECT_EQ(merged["layers"][i]["layer"], single["layers"][i]["layer"]);
    EXPECT_EQ(merged["layers"][i]["settings"], single["layers"][i]["settings"]) << single["layers"][i]["layer"];  // rank and every delta
  }
  for (const char* m : {"perplexity_float", "sensitivity_units"}) {
    auto value = [&](const nlohmann::json& e) {
      for (const auto& x : e["metrics"])
        if (x["name"] == m) return x["value"].get<double>();
      return -1.0;
    };
    EXPECT_EQ(value(merged), value(single)) << m;
  }
}

TEST(SweepCli, AFailedTaskIsReportedWithItsLogAndRerunsAlone) {
  test::TempDir dir;
  auto d = description(dir, 1);
  d.erase("sensitivity");
  d.erase("grid");
  const std::string recipe = test::write_json(dir, "w4-channel.json", {{"name", "w4-channel"}, {"default", {{"weights", {{"bits", 4}, {"strategy", "channel"}}}}}});
  d["recipes"] = {"W8A16", "w4-channel.json"};
  const std::string desc = test::write_json(dir, "sweep.json", d);
  const std::string sweep = dir.file("sweep"), db = dir.file("store.db");
  // Planned with a good recipe, which then breaks before its task runs.
  ASSERT_EQ(run_cli({"sweep", "run", desc, "--dir", sweep, "--db", db, "--tasks", "0"}).code, 0);
  std::ofstream(recipe) << "{ not json";
  auto r = run_cli({"sweep", "run", "--dir", sweep, "--db", db});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.out, "task 1") && contains(r.out, "failed (exit 1)") && contains(r.out, "w4-channel.json")) << r.out;
  EXPECT_TRUE(contains(r.out, "--tasks 1")) << r.out;
  r = run_cli({"sweep", "status", sweep});
  EXPECT_TRUE(contains(r.out, "1 completed, 1 failed") && contains(r.out, "task-1.log")) << r.out;
  EXPECT_EQ(list(db).size(), 1u);

  // A completed task is not run twice.
  r = run_cli({"sweep", "run", "--dir", sweep, "--db", db, "--tasks", "0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "task 0 has completed")) << r.err;

  test::write_json(dir, "w4-channel.json", {{"name", "w4-channel"}, {"default", {{"weights", {{"bits", 4}, {"strategy", "channel"}}}}}});
  r = run_cli({"sweep", "run", "--dir", sweep, "--db", db, "--tasks", "1"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(list(db).size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(sweep + "/attempts/1.1/task-1.log"));  // the failure's log is kept
}

TEST(SweepCli, ExperimentsImportIsIdempotentAndRefusesOtherFiles) {
  test::TempDir dir;
  const std::string task = dir.file("task.db"), db = dir.file("store.db");
  auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "W8A16", "--calib", test::demo("sotu-calib.txt"), "--samples", "4", "--seq",
                    "64", "--eval", test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "2", "--db", task});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli({"experiments", "import", task, "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "imported 1 experiment")) << r.out;
  r = run_cli({"experiments", "import", task, "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "imported 0 experiments") && contains(r.out, "1 already present")) << r.out;
  EXPECT_EQ(list(db).size(), 1u);

  std::ofstream(dir.file("notes.txt")) << "not a database";
  r = run_cli({"experiments", "import", dir.file("notes.txt"), "--db", db});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "notes.txt")) << r.err;
  r = run_cli({"experiments", "import", db, "--db", db});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "destination database itself")) << r.err;
  EXPECT_EQ(list(db).size(), 1u);
}
