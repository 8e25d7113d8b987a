// OliVe: the 4-bit pair encoding holds exactly the weight that is evaluated, with the outlier-victim
// rule intact, and on weights with planted outlier input channels it loses less than 4-bit
// per-tensor RTN, layer by layer and in the logits.
#include <gtest/gtest.h>

#include "core/compress/compress.h"
#include "core/compress/olive.h"
#include "core/compress/recipe.h"
#include "core/compress/rtn.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;

WeightQuant olive(WeightStrategy s, OliveNormal n = OliveNormal::Auto) {
  WeightQuant w;
  w.olive = true;
  w.bits = 4;
  w.strategy = s;
  w.olive_normal = n;
  return w;
}

double rel_mse(const at::Tensor& a, const at::Tensor& b) { return (a - b).pow(2).sum().item<double>() / b.pow(2).sum().item<double>(); }

TEST(OliveTest, PairEncodingStoresWhatItClaims) {
  at::manual_seed(5);
  at::Tensor w = at::randn({24, 63});  // odd row length: pairs cross rows, and the last element is alone
  w.index_put_({3, 10}, 40.0);
  w.index_put_({3, 11}, -35.0);  // side by side in the row, but in two pairs (flat 199 and 200)
  w.index_put_({6, 0}, 33.0);
  w.index_put_({6, 1}, -31.0);  // flat 378 and 379: both outliers in one pair, the even one is kept
  w.index_put_({7, 0}, 25.0);
  w.index_put_({23, 62}, -30.0);  // the unpaired last element
  for (auto strategy : {WeightStrategy::Channel, WeightStrategy::Tensor})
    for (auto normal : {OliveNormal::Int, OliveNormal::Flint, OliveNormal::Auto}) {
      OliveInfo info;
      const at::Tensor q = olive_quantize(w, olive(strategy, normal), &info);
      ASSERT_EQ(info.codes.sizes(), w.sizes());
      EXPECT_EQ(info.codes.scalar_type(), at::kByte);
      EXPECT_LE(info.codes.max().item<int64_t>(), 15);
      EXPECT_EQ(info.scale.numel(), strategy == WeightStrategy::Channel ? 24 : 1);
      if (normal != OliveNormal::Auto) EXPECT_EQ(info.flint, normal == OliveNormal::Flint);
      // The 4-bit codes alone rebuild the weight that was evaluated.
      EXPECT_TRUE(at::allclose(olive_decode(info.codes, info.scale, info.flint), q, 1e-6, 1e-7));
      // Per pair: at most one non-zero value beyond the normal range, and a victim is exactly 0.
      const at::Tensor unit = strategy == WeightStrategy::Channel ? info.scale.unsqueeze(1) : info.scale.reshape({1, 1});
      at::Tensor units = (q / unit).reshape({-1});
      if (units.numel() % 2) units = at::cat({units, at::zeros({1})});
      units = units.view({-1, 2});
      const at::Tensor big = units.abs() > 32;
      EXPECT_FALSE((big.select(1, 0) & big.select(1, 1)).any().item<bool>());
      at::Tensor codes = info.codes.reshape({-1}).to(at::kLong);
      if (codes.numel() % 2) codes = at::cat({codes, at::zeros({1}, codes.options())});
      codes = codes.view({-1, 2});
      const at::Tensor victim = codes.eq(8);
      EXPECT_TRUE((units.masked_select(victim) == 0).all().item<bool>());
      EXPECT_TRUE((victim.select(1, 0) | victim.select(1, 1)).eq(big.any(1)).all().item<bool>()) << "a victim marks exactly the outlier pairs";
      EXPECT_GT(info.outlier_fraction, 0);
      EXPECT_NEAR(info.outlier_fraction, info.victim_fraction, 1.0 / 1000);
    }
}

CompressResult run(Model& m, const json& weights, const CalibrationSet& c) {
  const json recipe = {{"default", {{"weights", weights}}}, {"ignore", {"*embed*", "*wte*", "lm_head"}}};
  return compress(m, resolve(Recipe::parse(recipe), m), c);
}

// The hf-tiny fixtures plant ×8 input channels 0 and 1 in every block matrix.
TEST(OliveTest, BeatsPerTensorRtnOnPlantedOutliers) {
  for (const char* name : {"llama-tiny", "qwen2-tiny", "gpt2-tiny", "mistral-tiny"}) {
    auto m = load_model(test::fixture(std::string("hf-tiny/") + name));
    at::manual_seed(3);
    const CalibrationSet calib = CalibrationSet::from_token_windows(at::randint(0, m->config().get_int("vocab_size"), {4, 32}, at::kLong), 4);
    at::NoGradGuard ng;
    const at::Tensor ref = m->forward(calib.batches.front()).logits;
    const CompressResult rtn = run(*m, {{"bits", 4}, {"strategy", "tensor"}}, calib);
    const at::Tensor l_rtn = m->forward(calib.batches.front()).logits;
    const CompressResult ol = run(*m, {{"type", "olive"}, {"strategy", "tensor"}}, calib);
    const at::Tensor l_ol = m->forward(calib.batches.front()).logits;
    ASSERT_EQ(rtn.layers.size(), ol.layers.size()) << name;
    int wins = 0;
    for (size_t i = 0; i < rtn.layers.size(); ++i) {
      ASSERT_EQ(rtn.layers[i].layer, ol.layers[i].layer);
      if (ol.layers[i].weight_rel_mse < rtn.layers[i].weight_rel_mse) ++wins;
      EXPECT_TRUE(ol.layers[i].settings["details"].contains("outlier_fraction")) << name << " " << ol.layers[i].layer;
    }
    EXPECT_EQ(wins, static_cast<int>(rtn.layers.size())) << name << ": OliVe's weight error below per-tensor RTN's on every layer";
    const double e_rtn = rel_mse(l_rtn, ref), e_ol = rel_mse(l_ol, ref);
    std::cerr << name << ": logits rel. MSE, RTN W4 per tensor " << e_rtn << ", OliVe W4 per tensor " << e_ol << "\n";
    EXPECT_LT(e_ol, 0.5 * e_rtn) << name;
  }
}

}  // namespace
}  // namespace quench
