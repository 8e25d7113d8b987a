// quench-cli with FLAP structured pruning, end to end and small: compress --save-model writes a
// smaller checkpoint that `inspect` shows with fewer parameters and `eval` reads back; the run is
// recorded with its parameter count and the checkpoint as an artifact; structured pruning of an
// unsupported family and --save-model of a forward-pass-only recipe fail with one line before
// anything is recorded or written.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "core/store/store.h"

using namespace quench;
using nlohmann::json;
using test::contains;
using test::run_cli;

namespace {

json flap_recipe(const char* target = "mlp") {
  return {{"name", "flap 20%"}, {"structured", {{"method", "flap"}, {"ratio", 0.2}, {"target", target}}}};
}

int64_t inspected_parameters(const std::string& dir) {
  const auto r = run_cli({"inspect", dir, "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  return r.code == 0 ? json::parse(r.out)["parameters"].get<int64_t>() : -1;
}

TEST(FlapCli, SavedModelIsSmallerInInspectAndEvaluates) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db"), saved = tmp.file("pruned");
  const std::string recipe = test::write_json(tmp, "flap.json", flap_recipe());
  const auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", recipe, "--calib", test::demo("sotu-calib.txt"), "--samples", "4",
                          "--seq", "64", "--eval", test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "4", "--db", db,
                          "--save-model", saved, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  const double ppl = j["metrics"]["perplexity"].get<double>();
  EXPECT_GT(ppl, 1.0);
  ASSERT_TRUE(j["details"].contains("structured")) << r.out;
  for (const auto& b : j["details"]["structured"]["outcome"]["blocks"]) EXPECT_LE(b["channels"][1], b["channels"][0]);

  const int64_t before = inspected_parameters(test::demo("sotu-llama")), after = inspected_parameters(saved);
  // 20% of the MLP weights (3 × 688 × 256 per block, 6 blocks) is about 634k parameters; the
  // compensation biases add 256 per block back.
  EXPECT_LT(after, before - 600000) << before << " → " << after;
  EXPECT_GT(after, before - 700000) << before << " → " << after;
  EXPECT_EQ(static_cast<int64_t>(j["metrics"]["parameters"].get<double>()), after);

  // The saved checkpoint evaluates like the in-memory run (bf16 storage rounds a little).
  const auto e = run_cli({"eval", saved, "--text", test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "4", "--no-record", "--json"});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(json::parse(e.out)["value"].get<double>(), ppl, ppl * 0.01);

  Store store = Store::open(db);
  const auto runs = store.list();
  ASSERT_EQ(runs.size(), 1u);
  const auto rec = store.get(runs[0].id);
  ASSERT_EQ(rec.artifacts.size(), 1u);
  EXPECT_EQ(rec.artifacts[0].kind, "checkpoint");
  EXPECT_TRUE(contains(rec.artifacts[0].path, "pruned/model.safetensors")) << rec.artifacts[0].path;
}

TEST(FlapCli, RefusalsComeBeforeAnythingIsRecordedOrWritten) {
  test::TempDir tmp;
  const std::string db = tmp.file("q.db"), saved = tmp.file("out");
  auto compress = [&](const std::string& model, const std::string& recipe, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"compress", test::demo(model), "--recipe", recipe, "--calib", test::demo("sotu-calib.txt"), "--db", db};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_cli(a);
  };
  const auto mamba = compress("sotu-mamba2", test::write_json(tmp, "flap.json", flap_recipe()));
  EXPECT_EQ(mamba.code, 1);
  EXPECT_EQ(std::count(mamba.err.begin(), mamba.err.end(), '\n'), 1) << mamba.err;
  EXPECT_TRUE(contains(mamba.err, "structured.method")) << mamba.err;
  EXPECT_TRUE(contains(mamba.err, "Mamba2ForCausalLM is not supported")) << mamba.err;

  const auto w8a8 = compress("sotu-llama", "W8A8", {"--save-model", saved});
  EXPECT_NE(w8a8.code, 0);
  EXPECT_TRUE(contains(w8a8.err, "activation quantization")) << w8a8.err;
  EXPECT_TRUE(contains(w8a8.err, "model.layers.0.self_attn.q_proj")) << w8a8.err;

  std::filesystem::create_directories(saved + "/keep");
  const auto busy = compress("sotu-llama", "W8A16", {"--save-model", saved});
  EXPECT_EQ(busy.code, 1);
  EXPECT_TRUE(contains(busy.err, "is not empty")) << busy.err;
  EXPECT_TRUE(std::filesystem::exists(saved + "/keep"));
  EXPECT_FALSE(std::filesystem::exists(db));
}

}  // namespace
