// RepQ-ViT: the reparameterization is exact in float and leaves every post-LayerNorm channel with
// the same range; the log√2 quantizer keeps softmax probabilities on powers of √2; ViT exposes its
// attention probabilities as a point.
#include <gtest/gtest.h>

#include "core/compress/act_quant.h"
#include "core/compress/calibration_set.h"
#include "core/compress/recipe.h"
#include "core/compress/repq_vit.h"
#include "core/data/image_dataset.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

CalibrationSet digits(int64_t n) {
  auto idx = load_idx_dataset(test::demo("mnist/test-images-idx3-ubyte.gz"), test::demo("mnist/test-labels-idx1-ubyte.gz"));
  return CalibrationSet::from_images(idx, ImagePreprocessor::from_model_dir(test::demo("mnist-vit")), n, 16);
}

TEST(RepqTest, FloatLogitsUnchangedAndChannelRangesEqualized) {
  auto m = load_model(test::demo("mnist-vit"));
  const CalibrationSet c = digits(32);
  at::NoGradGuard ng;
  const at::Tensor before = m->forward(c.batches.front()).logits;
  const std::string point = "vit.encoder.layer.0.attention.attention.query:input";
  auto spread = [&]() {  // max/min over channels of each channel's range
    CalibrationOptions co;
    co.points = point;
    co.weights = false;
    const CalibrationResult cal = calibrate(*m, c.source(), co);  // point() points into it: keep it alive
    const ActivationStats* st = cal.point(point);
    at::Tensor range = at::tensor(st->channel_max, at::kDouble).clamp_min(0) - at::tensor(st->channel_min, at::kDouble).clamp_max(0);
    range = range.masked_select(range > 1e-6);  // dead channels (always 0) have no range to compare
    return (range.max() / range.min()).item<double>();
  };
  const double spread_before = spread();
  const auto groups = apply_repq(*m, [](const Layer&) { return 4; }, c.source());
  ASSERT_FALSE(groups.empty());
  EXPECT_GT(groups.front().max_r1 / groups.front().min_r1, 2.0);
  const at::Tensor after = m->forward(c.batches.front()).logits;
  EXPECT_TRUE(at::allclose(after, before, 1e-4, 1e-4)) << (after - before).abs().max().item<double>();
  // On the same data the ranges are far closer (a channel whose range did not contain 0 keeps some spread).
  EXPECT_GT(spread_before, 2.0);
  const double spread_after = spread();
  std::cerr << "channel range spread " << spread_before << " → " << spread_after << "\n";
  EXPECT_LT(spread_after, 0.5 * spread_before);
}

TEST(RepqTest, LogSqrt2GridAndTheProbsPoint) {
  ActQuant a = parse_act_quant({{"type", "log_sqrt2"}, {"bits", 4}}, "x");
  EXPECT_TRUE(a.log_sqrt2);
  EXPECT_EQ(a.describe(), "A4 log√2");
  const at::Tensor x = at::tensor({1.0f, 0.5f, 0.7071f, 0.3f, 0.0f, 1e-4f});
  const at::Tensor q = act_fake_quant(x, a, {}, -1);
  // 1 → 2^0; 0.5 → 2^-1; 1/√2 → 2^-1/2; 0.3 → q = round(3.47) = 3 → 2^-1.5; 0 and values below
  // 2^-7.5 (q > 15) → 0.
  const at::Tensor want = at::tensor({1.0f, 0.5f, 0.70710678f, 0.35355339f, 0.0f, 0.0f});
  EXPECT_TRUE(at::allclose(q, want, 1e-5, 1e-6)) << q;
  EXPECT_THROW(parse_act_quant({{"type", "log_sqrt2"}, {"symmetric", true}}, "x"), RecipeError);
  auto m = load_model(test::demo("mnist-vit"));
  bool found = false;
  for (const auto& p : m->points()) found = found || p.name == "vit.encoder.layer.0.attention.attention:probs";
  EXPECT_TRUE(found);
  // repq needs LayerNorm readers that quantize their input.
  try {
    resolve(Recipe::parse({{"repq", true}}), *m);
    ADD_FAILURE() << "repq without activations was accepted";
  } catch (const RecipeError& e) {
    EXPECT_NE(std::string(e.what()).find("repq: reparameterizes post-LayerNorm activations"), std::string::npos) << e.what();
  }
  auto llama = load_model(test::demo("sotu-llama"));
  try {
    resolve(Recipe::parse({{"repq", true}, {"activations", {{"bits", 4}}}}), *llama);
    ADD_FAILURE() << "repq on RMSNorm was accepted";
  } catch (const RecipeError& e) {
    EXPECT_NE(std::string(e.what()).find("no LayerNorm → linear groups"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
