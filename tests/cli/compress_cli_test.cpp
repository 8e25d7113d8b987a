// quench-cli compress and sensitivity end to end on the demo models, kept small (a few windows of
// 64 tokens): bad recipes fail with one line naming the key and layer before anything is recorded;
// a run records a completed experiment with per-layer rows and metrics; --plan records nothing;
// sensitivity ranks the units and writes a suggestion that compress accepts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/store/store.h"
#include "cli_util.h"

using namespace quench;
using test::run_cli;
using nlohmann::json;

namespace {

using test::contains;

std::vector<std::string> llama_args(const std::string& recipe, const std::string& db) {
  return {"compress", test::demo("sotu-llama"), "--recipe", recipe, "--calib", test::demo("sotu-calib.txt"), "--samples", "4", "--seq", "64",
          "--db", db};
}

TEST(CompressCli, BadRecipesFailWithOneLineBeforeAnythingIsRecorded) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  struct Case {
    json recipe;
    std::vector<std::string> expect;  // parts of the message
  };
  const std::vector<Case> cases = {
      {{{"default", {{"weights", {{"bits", 4}}}}}, {"extra", 1}}, {"recipe.extra: unknown key"}},
      {{{"default", {{"weights", {{"bits", 9}}}}}}, {"default.weights.bits: 9 is outside 2–8"}},
      {{{"default", {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 128}}}}}},
       {"default.weights.group_size", "does not divide the 688 input features", "model.layers.0.mlp.down_proj"}},
      {{{"overrides", {{{"match", "model.embed_tokens"}, {"weights", {{"bits", 4}, {"method", "awq"}}}}}}},
       {"overrides[0].weights.method", "applies to Linear layers", "model.embed_tokens"}},
      {{{"overrides", {{{"match", "*.down_proj"}, {"rotation", "hadamard"}}}}}, {"overrides[0].rotation", "no Hadamard matrix of size 688"}},
      {{{"kv_cache", {{"bits", 2}, {"group_size", 32}, {"residual", 40}}}}, {"kv_cache.residual", "multiple of group_size"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = test::write_json(tmp, "bad" + std::to_string(i) + ".json", cases[i].recipe);
    const auto r = run_cli(llama_args(path, db));
    EXPECT_EQ(r.code, 1) << i << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(contains(r.err, path)) << r.err;
    for (const auto& part : cases[i].expect) EXPECT_TRUE(contains(r.err, part)) << i << ": " << r.err;
  }
  const auto r = run_cli(llama_args("W4A17", db));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "not a scheme")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db));  // not even opened: nothing recorded, completed or not
}

TEST(CompressCli, RecordsACompletedExperiment) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  auto args = llama_args("W8A8", db);
  for (const char* a : {"--eval", "", "--ctx", "64", "--max-windows", "4", "--json"}) args.push_back(a);
  args[args.size() - 6] = test::demo("sotu-2000-2023.txt");
  const auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["layers"].size(), 6u * 7u);
  EXPECT_GT(j["metrics"]["perplexity"].get<double>(), 1.0);
  EXPECT_GT(j["layers"][0]["output_sqnr_db"].get<double>(), 20.0);
  EXPECT_NEAR(j["size"]["quantized_bits_per_weight"].get<double>(), 8.06, 0.03);
  Store store = Store::open(db);
  const auto d = store.get(j["experiment_id"].get<int64_t>());
  EXPECT_EQ(d.summary.status, RunStatus::Completed);
  EXPECT_EQ(d.summary.kind, RunKind::Compress);
  EXPECT_EQ(d.layers.size(), 42u);
  EXPECT_EQ(d.recipe["scheme"], "W8A8");
  bool size = false, ppl = false;
  for (const auto& m : d.metrics) {
    size = size || m.name == "size_bytes";
    ppl = ppl || (m.name == "perplexity" && m.split == "test");
  }
  EXPECT_TRUE(size && ppl);
  ASSERT_EQ(d.datasets.size(), 2u);
}

TEST(CompressCli, PlanResolvesWithoutRecording) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  const json recipe = json::parse(R"({ "name": "w4a16-gptq-g128",
    "default": { "weights": { "bits": 4, "strategy": "group", "group_size": 128, "symmetric": true, "method": "gptq" } },
    "ignore": ["lm_head"],
    "overrides": [
      { "match": "model.layers.*.mlp.down_proj", "weights": { "bits": 8, "strategy": "channel", "method": "rtn" } },
      { "match": "model.layers.0.*", "skip": true } ],
    "activations": { "bits": 8, "strategy": "tensor", "dynamic": false, "observer": "percentile", "percentile": 99.99 } })");
  auto args = llama_args(test::write_json(tmp, "r.json", recipe), db);
  args.push_back("--plan");
  auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "model.layers.1.mlp.down_proj")) << r.out;
  EXPECT_TRUE(contains(r.out, "W8 sym channel rtn, A8 static tensor percentile 99.99")) << r.out;
  EXPECT_TRUE(contains(r.out, "kept: skip by overrides[1].skip")) << r.out;
  EXPECT_TRUE(contains(r.out, "bits/weight")) << r.out;
  args.push_back("--json");
  r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["plan"]["layers"]["model.layers.2.self_attn.q_proj"]["weights"]["method"], "gptq");
  EXPECT_GT(j["size"]["bytes"].get<int64_t>(), 0);
  EXPECT_FALSE(std::filesystem::exists(db));
}

TEST(CompressCli, ImageModelCalibratesOnIdx) {
  test::TempDir tmp;
  const auto r = run_cli({"compress", test::demo("mnist-resnet"), "--recipe", "W8A8", "--calib-images", test::demo("mnist/calib-images-idx3-ubyte.gz"),
                          "--samples", "32", "--eval-images", test::demo("mnist/test-images-idx3-ubyte.gz"), "--eval-labels",
                          test::demo("mnist/test-labels-idx1-ubyte.gz"), "--max-images", "64", "--db", tmp.file("q.db"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_GT(j["metrics"]["top1"].get<double>(), 0.9);
  EXPECT_EQ(j["layers"][0]["kind"], "conv2d");
  // Text calibration for an image model is a usage error.
  const auto bad = run_cli({"compress", test::demo("mnist-resnet"), "--recipe", "W8A8", "--calib", test::demo("sotu-calib.txt"), "--db",
                            tmp.file("q.db")});
  EXPECT_EQ(bad.code, 2) << bad.err;
}

TEST(SensitivityCli, RanksBlocksAndWritesASuggestionCompressAccepts) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db"), out = tmp.file("mixed.json");
  const auto r = run_cli({"sensitivity", test::demo("sotu-llama"), "--setting", "W3A16-G16", "--candidates", "W8A16", "--eval",
                          test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "2", "--per-block", "--budget", "5.5", "--suggest",
                          out, "--db", db, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["units"].size(), 6u);
  EXPECT_EQ(j["ranking"].size(), 6u);
  EXPECT_EQ(j["candidates"], json({"W3A16-G16", "W8A16"}));
  for (const auto& u : j["units"]) EXPECT_GT(u["entries"][0]["delta"].get<double>(), u["entries"][1]["delta"].get<double>()) << u["name"];
  EXPECT_LE(j["suggestion"]["average_bits"].get<double>(), 5.5);
  Store store = Store::open(db);
  const auto d = store.get(j["experiment_id"].get<int64_t>());
  EXPECT_EQ(d.summary.kind, RunKind::Sensitivity);
  EXPECT_EQ(d.summary.status, RunStatus::Completed);
  EXPECT_EQ(d.layers.size(), 6u);
  EXPECT_EQ(d.artifacts.size(), 1u);
  ASSERT_TRUE(std::filesystem::exists(out));
  const auto plan = run_cli({"compress", test::demo("sotu-llama"), "--recipe", out, "--plan", "--json"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_LE(json::parse(plan.out)["size"]["quantized_bits_per_weight"].get<double>(), 5.5);
  // --suggest without --budget is a usage error.
  EXPECT_EQ(run_cli({"sensitivity", test::demo("sotu-llama"), "--setting", "W4A16", "--eval", test::demo("sotu-2000-2023.txt"), "--suggest", out}).code,
            2);
}

TEST(CompressCli, NoRecordLeavesNoDatabase) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db");
  auto args = llama_args("W8A16", db);
  args.insert(args.end(), {"--no-record", "--json"});
  const auto r = run_cli(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["experiment_id"].is_null()) << r.out;
  EXPECT_FALSE(std::filesystem::exists(db));
  const auto s = run_cli({"sensitivity", test::demo("sotu-llama"), "--setting", "W8A16", "--layers", "model.layers.0.mlp.*", "--eval",
                          test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "2", "--db", db, "--no-record"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_TRUE(contains(s.out, "not recorded")) << s.out;
  EXPECT_FALSE(std::filesystem::exists(db));
}

}  // namespace
