// FLAP structured pruning: the exactness of bias compensation, the shapes and parameter counts a
// pruned llama-tiny ends with (channels, whole key/value head groups, align), the saved checkpoint
// that loads back with the same logits, and the recipe errors (bad values, an unsupported family,
// a later group size the kept channel count cannot honour).
#include <gtest/gtest.h>

#include "core/compress/compress.h"
#include "core/compress/flap.h"
#include "core/compress/recipe.h"
#include "core/compress/save_model.h"
#include "core/io/config.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;
using test::fixture;

CalibrationSet random_windows(int64_t vocab, int64_t n = 8, int64_t seq = 32) {
  at::manual_seed(3);
  return CalibrationSet::from_token_windows(at::randint(vocab, {n, seq}, at::kLong), 4);
}

at::Tensor logits(Model& m) {
  at::manual_seed(11);
  ModelInputs in;
  in.input_ids = at::randint(512, {2, 24}, at::kLong);
  at::NoGradGuard ng;
  return m.forward(in).logits;
}

ResolvedRecipe flap_plan(const Model& m, json structured, json extra = json::object()) {
  json r = extra;
  r["structured"] = std::move(structured);
  return resolve(Recipe::parse(r, "test recipe"), m);
}

int64_t weight_params(const Model& m) {
  int64_t n = 0;
  for (const auto& l : m.layers()) n += l->parameters();
  return n;
}

TEST(FlapTest, BiasCompensationExactForConstantChannels) {
  at::manual_seed(1);
  Hooks hooks;
  Layer layer("down", LayerKind::Linear, at::randn({5, 8}), at::Tensor(), &hooks);
  const at::Tensor mean = at::randn({8});
  at::Tensor x = at::randn({16, 8});
  // Channels 1, 4 and 6 never move from their mean: dropping them loses nothing once their mean
  // contribution sits in the bias.
  for (int64_t c : {1, 4, 6}) x.select(1, c).fill_(mean[c].item<float>());
  const at::Tensor y = layer.compute(x);
  const at::Tensor keep = at::tensor(std::vector<int64_t>{0, 2, 3, 5, 7}, at::kLong);
  drop_input_columns(layer, keep, mean);
  EXPECT_EQ(layer.weight().sizes(), (at::IntArrayRef{5, 5}));
  ASSERT_TRUE(layer.bias().defined());
  EXPECT_LT(test::rel_error(layer.compute(x.index_select(1, keep)), y), 1e-6);
  // Without compensation the same drop is visibly wrong.
  Layer plain("down", LayerKind::Linear, layer.original_weight(), at::Tensor(), &hooks);
  drop_input_columns(plain, keep);
  EXPECT_GT(test::rel_error(plain.compute(x.index_select(1, keep)), y), 1e-2);
}

TEST(FlapTest, PrunesMlpChannelsIntoSmallerLayersAndResets) {
  auto m = load_model(fixture("hf-tiny/llama-tiny"));
  const at::Tensor before = logits(*m);
  const int64_t params = weight_params(*m);
  const auto plan = flap_plan(*m, {{"method", "flap"}, {"ratio", 0.25}, {"target", "mlp"}, {"align", 8}});
  const CompressResult r = compress(*m, plan, random_windows(512));
  int64_t mlp_before = 0, mlp_after = 0;
  for (int64_t b = 0; b < m->num_blocks(); ++b) {
    const FlapBlock fb = flap_block(*m, b);
    const int64_t kept = fb.down->in_features();
    EXPECT_EQ(kept % 8, 0) << "align 8, block " << b;
    EXPECT_GE(kept, 8);
    EXPECT_EQ(fb.gate->out_features(), kept);
    EXPECT_EQ(fb.up->out_features(), kept);
    EXPECT_TRUE(fb.down->bias().defined()) << "bias compensation";
    EXPECT_EQ(fb.q->out_features(), 4 * 16) << "heads untouched";
    mlp_before += 3 * 176 * 64;
    mlp_after += 3 * kept * 64;
  }
  // align rounds up, so at most 25% of the MLP weights go, and not far less.
  EXPECT_LE(mlp_after, mlp_before);
  EXPECT_GE(static_cast<double>(mlp_after), 0.75 * static_cast<double>(mlp_before) - 0.5);
  EXPECT_LE(static_cast<double>(mlp_after), 0.85 * static_cast<double>(mlp_before));
  EXPECT_LT(weight_params(*m), params);
  EXPECT_EQ(r.size.stored_params, m->parameter_count());
  ASSERT_TRUE(r.details.contains("structured"));
  bool row = false;
  for (const auto& l : r.layers)
    if (l.layer == "model.layers.0.mlp.gate_proj") {
      row = true;
      EXPECT_LT(*l.params_after, *l.params_before);
    }
  EXPECT_TRUE(row) << "a per-layer result for each pruned layer";
  const at::Tensor after = logits(*m);
  EXPECT_TRUE(at::isfinite(after).all().item<bool>());
  EXPECT_GT(test::rel_error(after, before), 1e-4);
  m->reset_compression();
  EXPECT_EQ(flap_block(*m, 0).down->in_features(), 176);
  EXPECT_LT(test::rel_error(logits(*m), before), 1e-6);
}

TEST(FlapTest, HeadsGoInWholeKeyValueGroups) {
  auto m = load_model(fixture("hf-tiny/llama-tiny"));  // 4 query heads over 2 key/value heads
  const auto plan = flap_plan(*m, {{"method", "flap"}, {"ratio", 0.5}, {"target", "heads"}, {"adaptive", false}});
  compress(*m, plan, random_windows(512));
  for (int64_t b = 0; b < m->num_blocks(); ++b) {
    const FlapBlock fb = flap_block(*m, b);
    EXPECT_EQ(fb.k->out_features(), 16) << "one of two kv heads kept (uniform 50%)";
    EXPECT_EQ(fb.v->out_features(), 16);
    EXPECT_EQ(fb.q->out_features(), 2 * 16) << "with its two query heads";
    EXPECT_EQ(fb.o->in_features(), 2 * 16);
    EXPECT_EQ(fb.down->in_features(), 176) << "MLP untouched";
  }
  EXPECT_TRUE(at::isfinite(logits(*m)).all().item<bool>());
}

TEST(FlapTest, SavedModelLoadsBackSmallerWithTheSameLogits) {
  auto m = load_model(fixture("hf-tiny/llama-tiny"));
  const int64_t original = m->parameter_count();
  compress(*m, flap_plan(*m, {{"method", "flap"}, {"ratio", 0.3}, {"target", "mlp+heads"}}), random_windows(512));
  const at::Tensor pruned = logits(*m);
  test::TempDir dir;
  const std::string out = dir.file("saved");
  save_model(*m, out);
  auto back = load_model(out);
  EXPECT_EQ(back->parameter_count(), m->parameter_count());
  EXPECT_LT(back->parameter_count(), original);
  EXPECT_LT(test::rel_error(logits(*back), pruned), 1e-5);
  EXPECT_TRUE(back->config().has("quench_layer_sizes"));
  // Nothing is overwritten: a second save into the same directory is refused.
  EXPECT_THROW(save_model(*m, out), Error);
}

TEST(FlapTest, SaveRefusesWhatLivesOnlyInTheForwardPass) {
  auto m = load_model(fixture("hf-tiny/llama-tiny"));
  const auto plan = resolve(Recipe::parse(json{{"scheme", "W8A8"}}, "r"), *m);
  const std::string why = saveable_reason(plan);
  EXPECT_NE(why.find("model.layers.0.self_attn.q_proj"), std::string::npos) << why;
  EXPECT_EQ(saveable_reason(resolve(Recipe::parse(json{{"scheme", "W8A16"}}, "r"), *m)), "");
}

void expect_recipe_error(const std::function<void()>& f, const std::string& key, const std::string& text, const std::string& layer = "") {
  try {
    f();
    ADD_FAILURE() << "no error for " << key;
  } catch (const RecipeError& e) {
    EXPECT_EQ(e.key(), key) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    if (!layer.empty()) EXPECT_EQ(e.layer(), layer) << e.what();
  }
}

TEST(FlapTest, RecipeErrorsNameKeyAndLayer) {
  auto parse = [](json s) { return [s] { Recipe::parse(json{{"structured", s}}, "r"); }; };
  expect_recipe_error(parse({{"method", "flap"}, {"ratio", 1.0}}), "structured.ratio", "below 1");
  expect_recipe_error(parse({{"method", "flap"}, {"ratio", 0.0}}), "structured.ratio", "outside");
  expect_recipe_error(parse({{"method", "flap"}}), "structured.ratio", "needs a ratio");
  expect_recipe_error(parse({{"method", "flap"}, {"ratio", 0.2}, {"target", "all"}}), "structured.target", "mlp+heads");
  expect_recipe_error(parse({{"method", "flap"}, {"ratio", 0.2}, {"rate", 1}}), "structured.rate", "");
  expect_recipe_error(parse({{"ratio", 0.2}}), "structured.method", "flap");

  auto mamba = load_model(fixture("hf-tiny/mamba-tiny"));
  const Recipe structured = Recipe::parse(json{{"structured", {{"method", "flap"}, {"ratio", 0.2}}}}, "r");
  expect_recipe_error([&] { resolve(structured, *mamba); }, "structured.method", "MambaForCausalLM is not supported");

  auto llama = load_model(fixture("hf-tiny/llama-tiny"));
  const Recipe grouped = Recipe::parse(
      json{{"default", {{"weights", {{"bits", 4}, {"group_size", 16}}}}}, {"structured", {{"method", "flap"}, {"ratio", 0.2}, {"target", "mlp"}}}},
      "r");
  expect_recipe_error([&] { resolve(grouped, *llama); }, "structured.align", "set align to a multiple", "model.layers.0.mlp.down_proj");
  json ok = grouped.json;
  ok["structured"]["align"] = 16;
  EXPECT_NO_THROW(resolve(Recipe::parse(ok, "r"), *llama));
}

}  // namespace
}  // namespace quench
