// Quamba2: the sort-and-cluster layout, the residual rotation and the offline reordering (exact in
// float, saved as an ordinary checkpoint), the recipe checks, and grouped scales that quantize the scan input better than one
// scale per tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "core/compress/calibration_set.h"
#include "core/compress/compress.h"
#include "core/compress/quamba2.h"
#include "core/compress/recipe.h"
#include "core/compress/save_model.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using json = nlohmann::json;

CalibrationSet windows(int64_t n = 8, int64_t seq = 64) {
  at::manual_seed(3);
  return CalibrationSet::from_token_windows(at::randint(0, 4096, {n, seq}, at::kLong), 4);
}

at::Tensor logits(Model& m) {
  at::NoGradGuard ng;
  at::manual_seed(5);
  ModelInputs in;
  in.input_ids = at::randint(0, 4096, {2, 48}, at::kLong);
  return m.forward(in).logits;
}

bool is_permutation_of_range(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<int64_t>(i)) return false;
  return true;
}

TEST(Quamba2Test, LayoutSortsChannelsClustersHeadsAndKeepsSsdGroups) {
  at::manual_seed(1);
  const int64_t heads = 8, hd = 16;
  at::Tensor r = at::rand({heads, hd}, at::kDouble) + 0.5;
  for (int64_t h : {1, 2, 5, 6}) r[h][h % hd] = 40.0;  // heads with one outlier channel
  const Quamba2Layout L = quamba2_layout(r, /*ssd_groups=*/2);
  ASSERT_EQ(L.head_order.size(), 8u);
  ASSERT_EQ(L.channel_order.size(), 128u);
  EXPECT_TRUE(is_permutation_of_range(L.head_order));
  EXPECT_TRUE(is_permutation_of_range(L.channel_order));
  // Heads never leave their SSD group (B and C are shared by the group's heads).
  for (int64_t i = 0; i < heads; ++i) EXPECT_EQ(L.head_order[i] / 4, i / 4) << i;
  const at::Tensor flat = r.reshape({-1});
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t j = 0; j < hd; ++j) EXPECT_EQ(L.channel_order[h * hd + j] / hd, L.head_order[h]) << "a channel stays in its head";
    for (int64_t j = 1; j < hd; ++j) {
      EXPECT_LE(flat[L.channel_order[h * hd + j - 1]].item<double>(), flat[L.channel_order[h * hd + j]].item<double>()) << "sorted within the head";
      EXPECT_LE(L.x_group[h * hd + j - 1].item<int64_t>(), L.x_group[h * hd + j].item<int64_t>()) << "contiguous channel groups";
    }
  }
  // Up to 4 head groups × 4 channel groups per SSD group; the outlier channel gets a group of its own.
  EXPECT_EQ(L.head_groups, 4);
  EXPECT_LE(L.x_groups, 2 * 4 * 4);
  EXPECT_GE(L.x_groups, 2 * 2 * 2);
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t old = L.head_order[h];
    if (old != 1 && old != 2 && old != 5 && old != 6) continue;
    EXPECT_NE(L.x_group[h * hd + hd - 1].item<int64_t>(), L.x_group[h * hd + hd - 2].item<int64_t>()) << "head " << old;
  }
  EXPECT_THROW(quamba2_layout(r, 3), Error);
}

TEST(Quamba2Test, ReorderKeepsFloatLogitsAndSavesAsAnOrdinaryCheckpoint) {
  auto m = load_model(test::demo("sotu-mamba2"));
  const at::Tensor before = logits(*m);
  const at::Tensor in_proj = m->layer("backbone.layers.0.mixer.in_proj").weight().clone();
  const Quamba2Outcome o = apply_quamba2(*m, windows().source(), {});
  ASSERT_EQ(o.mixers.size(), 8u);
  EXPECT_FALSE(at::equal(in_proj, m->layer("backbone.layers.0.mixer.in_proj").weight())) << "the channels moved";
  EXPECT_EQ(o.groups.at("backbone.layers.0.mixer:x").numel(), 512);
  EXPECT_EQ(o.groups.at("backbone.layers.0.mixer:B").max().item<int64_t>(), 0) << "one state group (n_groups 1)";
  const at::Tensor after = logits(*m);
  EXPECT_LT(test::rel_error(after, before), 1e-5);
  test::TempDir dir;
  const std::string out = dir.file("reordered");
  save_model(*m, out);
  auto back = load_model(out);
  // Saved in the checkpoint's bf16: the rotated weights are rounded once (a permutation alone would
  // be exact), so the reloaded logits agree to bf16 precision.
  const at::Tensor reloaded = logits(*back);
  EXPECT_LT(test::rel_error(reloaded, before), 2e-2);
  EXPECT_GT(reloaded.argmax(-1).eq(before.argmax(-1)).to(at::kFloat).mean().item<float>(), 0.95f);
  // The rotated residual stream: norm weights folded into their readers, the tied head written apart.
  EXPECT_TRUE(o.rotated_residual);
  EXPECT_TRUE(at::equal(back->param("backbone.layers.2.norm.weight").to(at::kFloat), at::ones({256})));
  EXPECT_FALSE(back->config().get_bool("tie_word_embeddings", true));
  EXPECT_FALSE(at::equal(back->layer("lm_head").weight(), back->layer("backbone.embeddings").weight()));
  EXPECT_FALSE(at::equal(in_proj, back->layer("backbone.layers.0.mixer.in_proj").weight()));
}

TEST(Quamba2Test, RecipeChecks) {
  auto mamba2 = load_model(test::demo("sotu-mamba2"));
  auto llama = load_model(test::demo("sotu-llama"));
  for (const auto& p : quamba2_presets()) {
    ASSERT_TRUE(Recipe::from_name(p)) << p;
    EXPECT_THROW(resolve(*Recipe::from_name(p), *llama), RecipeError) << p;
  }
  const ResolvedRecipe w4a8 = resolve(*Recipe::from_name("quamba2-w4a8"), *mamba2);
  EXPECT_TRUE(w4a8.quamba2);
  EXPECT_EQ(w4a8.points.size(), 24u);  // x, B, C of 8 mixers
  EXPECT_EQ(w4a8.find("backbone.layers.0.mixer.in_proj")->weights->method, "gptq");
  EXPECT_EQ(w4a8.find("backbone.layers.0.mixer.in_proj")->weights->bits, 4);
  EXPECT_TRUE(w4a8.find("backbone.layers.0.mixer.out_proj")->hadamard);
  EXPECT_FALSE(resolve(*Recipe::from_name("quamba2-w4a16"), *mamba2).quamba2) << "no activations to group";
  auto error = [&](const json& j) {
    try {
      resolve(Recipe::parse(j, "r.json"), *mamba2);
    } catch (const RecipeError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string e = error({{"quamba2", true}, {"default", {{"weights", {{"bits", 8}}}}}});
  EXPECT_NE(e.find("no point quantizes a mixer's :x"), std::string::npos) << e;
  e = error({{"quamba2", true}, {"points", {{{"match", "*.mixer:x"}, {"activations", {{"bits", 8}, {"dynamic", true}}}}}}});
  EXPECT_NE(e.find("points[0]"), std::string::npos) << e;
  EXPECT_NE(e.find("grouped static symmetric absmax"), std::string::npos) << e;
  e = error({{"quamba2", "yes"}});
  EXPECT_NE(e.find("quamba2: must be true or false"), std::string::npos) << e;
  try {
    resolve(Recipe::parse({{"quamba2", true}, {"points", {{{"match", "*:x"}, {"activations", {{"bits", 8}}}}}}}), *llama);
    ADD_FAILURE() << "quamba2 on a Llama";
  } catch (const RecipeError& ex) {
    EXPECT_EQ(ex.key(), "quamba2");
  }
}

TEST(Quamba2Test, GroupedScalesQuantizeTheScanInputBetterThanOnePerTensor) {
  const CalibrationSet c = windows(8);
  auto x_error = [&](bool grouped) {
    auto m = load_model(test::demo("sotu-mamba2"));
    json j = quamba2_recipe("quamba2-w8a8", m->architecture());
    j["quamba2"] = grouped;
    const CompressResult res = compress(*m, resolve(Recipe::parse(j), *m), c);
    for (const auto& l : res.layers)
      if (l.layer == "backbone.layers.3.mixer:x") {
        if (grouped) {
          EXPECT_GT(l.settings["details"]["scale_groups"].get<int64_t>(), 1) << l.settings.dump();
        }
        return l.output_rel_mse.value_or(-1.0);
      }
    ADD_FAILURE() << "no result for the scan input";
    return 0.0;
  };
  const double per_tensor = x_error(false), grouped = x_error(true);
  std::cerr << "scan input relative MSE: per tensor " << per_tensor << ", grouped " << grouped << "\n";
  EXPECT_LT(grouped, 0.7 * per_tensor);
}

}  // namespace
}  // namespace quench
