// HQQ: its fitted zero points lower the weight error of min-max rounding on heavy-tailed weights
// (the paper's Table 1 ordering, data-free); recipes that cannot hold it are refused by key, and
// neither exporter writes its fractional zero points. The perplexity ordering on sotu-llama is
// QuantAccuracy.HqqW3BeatsRtn.
#include <gtest/gtest.h>

#include "core/compress/hqq.h"
#include "core/compress/recipe.h"
#include "core/compress/rtn.h"
#include "core/compress/size_estimate.h"
#include "core/compress/weight_method.h"
#include "core/export/compressed_tensors.h"
#include "core/export/gguf_export.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using json = nlohmann::json;

WeightQuant asym(int bits, WeightStrategy st, int64_t group = 0) {
  WeightQuant w;
  w.bits = bits;
  w.symmetric = false;
  w.strategy = st;
  w.group_size = group;
  w.method = "hqq";
  return w;
}

// Normal weights with 1% of entries eight times larger: the outliers stretch min-max ranges.
at::Tensor heavy_tailed(int64_t out, int64_t in) {
  at::manual_seed(3);
  at::Tensor w = at::randn({out, in}) * 0.02;
  const at::Tensor spikes = at::rand({out, in}) < 0.01;
  return at::where(spikes, w * 8, w);
}

double mean_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().mean().item<double>(); }

TEST(HqqTest, BeatsMinMaxRtnOnHeavyTails) {
  const at::Tensor w = heavy_tailed(64, 512);
  for (const auto& [bits, st, g] : {std::tuple{3, WeightStrategy::Channel, int64_t(0)}, std::tuple{4, WeightStrategy::Group, int64_t(64)},
                                    std::tuple{2, WeightStrategy::Group, int64_t(128)}}) {
    WeightQuant rtn = asym(bits, st, g);
    rtn.method = "rtn";
    HqqInfo info;
    const at::Tensor h = hqq_quantize(w, asym(bits, st, g), &info);
    const double e_hqq = mean_abs(h, w), e_rtn = mean_abs(rtn_quantize(w, rtn), w);
    EXPECT_LT(e_hqq, e_rtn) << bits << " bits";
    EXPECT_NEAR(info.mean_abs_error, e_hqq, 1e-6);
    EXPECT_LT(info.mean_abs_error, info.minmax_abs_error);
    EXPECT_GT(info.iterations, 0);
    // Scales stay at min-max: every group's values lie on 2^bits levels.
    const int64_t slot = g ? g : w.size(1);
    const at::Tensor groups = h.reshape({-1, slot});
    for (int64_t r = 0; r < 4; ++r) EXPECT_LE(std::get<0>(at::_unique(groups[r])).size(0), int64_t(1) << bits);
  }
}

TEST(HqqTest, ConstantGroupsStayFinite) {
  at::Tensor w = at::zeros({4, 64});
  w[1].fill_(0.5);
  const at::Tensor h = hqq_quantize(w, asym(4, WeightStrategy::Group, 32));
  EXPECT_TRUE(at::isfinite(h).all().item<bool>());
  EXPECT_LT((h - w).abs().max().item<double>(), 1e-3);
}

TEST(HqqTest, RecipeChecksAndExportRefusals) {
  auto model = load_model(test::demo("sotu-llama"));
  auto error_of = [&](const json& weights) { return test::weights_recipe_error(*model, weights); };
  EXPECT_EQ(error_of({{"bits", 4}, {"strategy", "channel"}, {"method", "hqq"}}), "");  // asymmetric by default
  EXPECT_NE(error_of({{"bits", 4}, {"strategy", "channel"}, {"symmetric", true}, {"method", "hqq"}}).find("symmetric"), std::string::npos);
  EXPECT_NE(error_of({{"bits", 4}, {"strategy", "tensor"}, {"method", "hqq"}}).find("strategy"), std::string::npos);
  EXPECT_NE(error_of({{"format", "q4_0"}, {"method", "hqq"}}).find("hqq"), std::string::npos);
  EXPECT_NE(error_of({{"bits", 4}, {"strategy", "channel"}, {"method", "hqq"}, {"damp", 0.1}}).find("applies to method \"gptq\""),
            std::string::npos);

  const ResolvedRecipe plan = resolve(Recipe::parse({{"default", {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 16}, {"method", "hqq"}}}}}}), *model);
  EXPECT_FALSE(plan.needs_calibration());  // data-free
  EXPECT_NE(ct_exportable(*model, plan).find("HQQ's fractional zero points"), std::string::npos) << ct_exportable(*model, plan);
  EXPECT_NE(gguf_exportable(*model, plan).find("HQQ's fractional zero points"), std::string::npos) << gguf_exportable(*model, plan);
  // b bits, an fp16 scale and an fp16 zero per group of 16.
  const WeightQuant& w = *plan.find("model.layers.0.self_attn.q_proj")->weights;
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 8, 128), 8 * 128 * 4 + 8 * 8 * 32.0);
}

}  // namespace
}  // namespace quench
