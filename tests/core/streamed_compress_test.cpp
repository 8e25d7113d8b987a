// Compressing a model streamed from its checkpoint (one block resident at a time, compressed
// blocks written out as they finish) gives what compressing the whole model gives: the same
// per-layer rows, the same compressed logits, the same saved checkpoint. What needs the whole
// model is refused before any work, by name.
#include <gtest/gtest.h>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include "core/compress/compress.h"
#include "core/compress/save_model.h"
#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

using json = nlohmann::json;

CalibrationSet calib(int64_t vocab, int64_t n = 8, int64_t T = 24) {
  at::manual_seed(5);
  return CalibrationSet::from_token_windows(at::randint(0, vocab, {n, T}, at::kLong), 4);
}

at::Tensor logits(Model& m, const CalibrationSet& c) {
  at::NoGradGuard ng;
  return m.forward(c.batches.front()).logits;
}

struct Case {
  const char* name;
  const char* fixture;
  json recipe;
};

std::vector<Case> cases() {
  auto weights = [](const char* method, int bits = 4) {
    return json{{"default", {{"weights", {{"bits", bits}, {"strategy", "group"}, {"group_size", 16}, {"method", method}}}}}};
  };
  return {
      {"rtn_w8", "hf-tiny/llama-tiny", weights("rtn", 8)},
      {"gptq_w4", "hf-tiny/llama-tiny", weights("gptq")},
      {"awq_w4", "hf-tiny/llama-tiny", weights("awq")},
      {"gptq_mamba2", "hf-tiny/mamba2-tiny", weights("gptq")},
      {"gptq_gpt2", "hf-tiny/gpt2-tiny", weights("gptq")},
      {"sparsegpt_24", "hf-tiny/llama-tiny", json::parse(R"({"overrides": [{"match": "*.mlp.*", "prune": {"pattern": "2:4", "method": "sparsegpt"}}]})")},
      {"wanda_w8", "hf-tiny/llama-tiny",
       json::parse(R"({"default": {"weights": {"bits": 8}}, "overrides": [{"match": "*.mlp.*", "prune": {"sparsity": 0.5, "method": "wanda"}}]})")},
      {"rotated_dynamic_w4a8", "hf-tiny/llama-tiny",
       json::parse(R"({"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 16, "method": "gptq"},
                                   "activations": {"bits": 8, "strategy": "token", "dynamic": true}},
                       "overrides": [{"match": "*.o_proj", "rotation": "hadamard"}]})")},
      {"kivi", "hf-tiny/llama-tiny", json::parse(R"({"kv_cache": {"method": "kivi", "bits": 2, "group_size": 16, "residual": 16}})")},
  };
}

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class StreamedCompress : public ::testing::TestWithParam<Case> {};

TEST_P(StreamedCompress, RowsLogitsAndSavedModelEqualTheWholeModel) {
  const Case& k = GetParam();
  const std::string dir = test::fixture(k.fixture);
  auto whole = load_model(dir);
  auto model = test::streamed_model(dir);
  ASSERT_TRUE(model->streaming());
  const auto c = calib(512);  // the fixtures' vocabulary
  const Recipe recipe = Recipe::parse(k.recipe);
  const CompressResult a = compress(*whole, resolve(recipe, *whole), c);
  const CompressResult b = compress(*model, resolve(recipe, *model), c);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const LayerResult &x = a.layers[i], &y = b.layers[i];
    EXPECT_EQ(x.layer, y.layer);
    EXPECT_EQ(x.settings, y.settings) << x.layer;
    EXPECT_EQ(x.params_after, y.params_after) << x.layer;
    EXPECT_EQ(x.sparsity, y.sparsity) << x.layer;
    auto same = [&](const std::optional<double>& u, const std::optional<double>& v, const char* what) {
      ASSERT_EQ(u.has_value(), v.has_value()) << x.layer << " " << what;
      if (u) EXPECT_NEAR(*u, *v, 1e-9 + 1e-6 * std::abs(*u)) << x.layer << " " << what;
    };
    same(x.weight_rel_mse, y.weight_rel_mse, "weight error");
    same(x.output_rel_mse, y.output_rel_mse, "output error");
  }
  EXPECT_EQ(a.size.bytes, b.size.bytes);
  // The streamed run times every block (the CLI prints the mean, to read a deeper model's time off).
  ASSERT_TRUE(b.details.contains("streamed")) << k.name;
  EXPECT_EQ(b.details["streamed"]["block_seconds"].size(), static_cast<size_t>(model->num_blocks())) << k.name;
  EXPECT_FALSE(a.details.contains("streamed")) << k.name;
  // Compressed blocks rest on their written copies; the next forward reads them back.
  for (const auto& l : model->layers()) EXPECT_FALSE(l->resident()) << l->name();
  const at::Tensor la = logits(*whole, c), lb = logits(*model, c);
  EXPECT_LE(test::rel_error(lb, la), 1e-6) << k.name;
  if (saveable_reason(resolve(recipe, *whole)).empty()) {
    test::TempDir tmp;
    save_model(*whole, tmp.path() + "/whole");
    save_model(*model, tmp.path() + "/streamed");
    auto wa = load_all_safetensors(tmp.path() + "/whole/model.safetensors");
    auto wb = load_all_safetensors(tmp.path() + "/streamed/model.safetensors");
    ASSERT_EQ(wa.size(), wb.size());
    for (const auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
  }
  // Starting over reads the checkpoint again: the written copies are let go.
  model->reset_compression();
  auto fresh = load_model(dir);
  EXPECT_TRUE(at::equal(logits(*model, c), logits(*fresh, c))) << k.name;
}

INSTANTIATE_TEST_SUITE_P(Recipes, StreamedCompress, ::testing::ValuesIn(cases()), [](const auto& info) { return std::string(info.param.name); });

TEST(StreamedCompressRefusals, WholeModelStepsAreRefusedByName) {
  const std::string dir = test::fixture("hf-tiny/llama-tiny");
  const auto c = calib(512);
  struct Refusal {
    json recipe;
    const char* names;
  };
  for (const Refusal& r : {Refusal{json::parse(R"({"smoothquant": {"alpha": 0.5}, "default": {"weights": {"bits": 8}, "activations": {"bits": 8, "strategy": "token", "dynamic": true}}})"), "SmoothQuant"},
                           Refusal{json::parse(R"({"default": {"weights": {"bits": 8}, "activations": {"bits": 8}}})"), "static input quantization"},
                           Refusal{json::parse(R"({"kv_cache": {"method": "fp8"}})"), "FP8 KV cache"}}) {
    auto model = test::streamed_model(dir);
    try {
      compress(*model, resolve(Recipe::parse(r.recipe), *model), c);
      FAIL() << "expected a refusal naming " << r.names;
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(r.names), std::string::npos) << m;
      EXPECT_NE(m.find("--max-memory"), std::string::npos) << m;
    }
    // Nothing was changed: the model still computes the checkpoint's logits.
    auto fresh = load_model(dir);
    EXPECT_TRUE(at::equal(logits(*model, c), logits(*fresh, c)));
  }
}

}  // namespace
}  // namespace quench
