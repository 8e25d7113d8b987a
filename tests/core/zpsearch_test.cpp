// Zero-point search (core/compress/zpsearch.cpp), the method added as one file: its weight error
// against min–max and "mse"-clipped RTN, and that its registration alone puts it in the recipe
// parser, the pipeline, the size estimate and the exporters.
#include <gtest/gtest.h>

#include "core/compress/compress.h"
#include "core/compress/recipe.h"
#include "core/compress/rtn.h"
#include "core/compress/size_estimate.h"
#include "core/compress/weight_method.h"
#include "core/export/compressed_tensors.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using json = nlohmann::json;

WeightQuant asym(const std::string& method, int bits, WeightStrategy st, int64_t group = 0) {
  WeightQuant w;
  w.bits = bits;
  w.symmetric = false;
  w.strategy = st;
  w.group_size = group;
  w.method = method;
  return w;
}

// Normal weights whose rows carry a long tail on the positive side only (2% of entries, 4–10× the
// spread): the best range is not the min–max range shrunk by one ratio at both ends (the search
// ends up cutting the sparse Gaussian extremes below more than the tail above).
at::Tensor one_sided(int64_t out, int64_t in) {
  at::manual_seed(11);
  const at::Tensor w = at::randn({out, in}) * 0.02;
  const at::Tensor tail = (at::rand({out, in}) < 0.02) * (0.08 + at::rand({out, in}) * 0.12);
  return w + tail;
}

// zpsearch through its registration, on a layer of a real model, as the pipeline calls it.
at::Tensor quantize(const Model& model, const Layer& layer, const WeightQuant& setting, const at::Tensor& w, json& details,
                    std::shared_ptr<const WeightEncoding>* encoding = nullptr) {
  WeightMethodCall call{model, layer, setting, w, {}, {}, false, 0, details, nullptr};
  weight_method(setting.method).quantize(call);
  if (encoding) *encoding = call.encoding;
  return call.weight;
}

TEST(ZpSearch, LowerWeightErrorThanMinMaxAndMseClipRtn) {
  auto model = load_model(test::demo("sotu-llama"));
  const Layer& layer = *model->find_layer("model.layers.0.mlp.down_proj");
  const at::Tensor w = one_sided(64, 256);
  // 2 bits want ranges cut by about half: the search is given shrinks up to 0.6 there.
  for (const auto& [bits, st, g, max_shrink] : {std::tuple{3, WeightStrategy::Channel, int64_t(0), 0.3},
                                                std::tuple{4, WeightStrategy::Group, int64_t(32), 0.3},
                                                std::tuple{2, WeightStrategy::Group, int64_t(64), 0.6}}) {
    WeightQuant zp = asym("zpsearch", bits, st, g);
    zp.options["max_shrink"] = max_shrink;
    json details;
    std::shared_ptr<const WeightEncoding> enc;
    const at::Tensor q = quantize(*model, layer, zp, w, details, &enc);
    const WeightQuant minmax = asym("rtn", bits, st, g);
    WeightQuant mse = minmax;
    mse.options["clip"] = "mse";
    const ops::QuantSpec spec = zp.spec();
    const at::Tensor e_zp = slot_weight_error(w, q, spec), e_minmax = slot_weight_error(w, rtn_quantize(w, minmax), spec);
    // the unshrunk pair is a candidate: no slot gets worse than min–max
    EXPECT_TRUE((e_zp <= e_minmax * (1 + 1e-6)).all().item<bool>()) << bits << " bits";
    const double zp_total = e_zp.sum().item<double>(), mse_total = slot_weight_error(w, rtn_quantize(w, mse), spec).sum().item<double>();
    EXPECT_LT(zp_total, e_minmax.sum().item<double>()) << bits << " bits";
    EXPECT_LT(zp_total, mse_total) << bits << " bits";
    EXPECT_GT(details["zp_lower_shrink"].get<double>() + details["zp_upper_shrink"].get<double>(), 0) << details.dump();
    // Its result is an ordinary asymmetric integer grid, recorded for the exporters.
    ASSERT_TRUE(enc && enc->spec && enc->params.zero.defined());
    EXPECT_TRUE(at::allclose(ops::fake_quant(w, enc->params, *enc->spec), q));
    const int64_t slot = g ? g : w.size(1);
    const at::Tensor slots = q.reshape({-1, slot});
    for (int64_t r = 0; r < 4; ++r) EXPECT_LE(std::get<0>(at::_unique(slots[r])).size(0), int64_t(1) << bits);
  }
}

TEST(ZpSearch, RecipeOptionsAndChecks) {
  auto model = load_model(test::demo("sotu-llama"));
  auto error_of = [&](const json& weights) { return test::weights_recipe_error(*model, weights); };
  const json base = {{"bits", 4}, {"strategy", "group"}, {"group_size", 16}, {"method", "zpsearch"}};
  EXPECT_EQ(error_of(base), "");  // asymmetric by default
  auto with = [&](const char* key, const json& v) {
    json j = base;
    j[key] = v;
    return j;
  };
  EXPECT_NE(error_of(with("symmetric", true)).find("default.weights.symmetric"), std::string::npos);
  EXPECT_NE(error_of({{"format", "q4_0"}, {"method", "zpsearch"}}).find("zpsearch"), std::string::npos);
  EXPECT_NE(error_of(with("steps", 0)).find("default.weights.steps"), std::string::npos);
  EXPECT_NE(error_of(with("max_shrink", 1.5)).find("default.weights.max_shrink"), std::string::npos);
  EXPECT_NE(error_of(with("damp", 0.1)).find("applies to method \"gptq\""), std::string::npos);
  EXPECT_NE(error_of({{"bits", 4}, {"strategy", "channel"}, {"steps", 4}}).find("applies to method \"zpsearch\", not \"rtn\""), std::string::npos);
  EXPECT_NE(error_of({{"type", "float"}, {"method", "zpsearch"}}).find("method \"rtn\""), std::string::npos);

  const ResolvedRecipe plan = resolve(Recipe::parse({{"default", {{"weights", with("steps", 4)}}}}), *model);
  EXPECT_FALSE(plan.needs_calibration());  // data-free
  const WeightQuant& w = *plan.find("model.layers.0.self_attn.q_proj")->weights;
  EXPECT_EQ(w.integer("steps"), 4);
  EXPECT_DOUBLE_EQ(w.number("max_shrink"), 0.3);  // the declared default
  const json back = w.to_json();
  EXPECT_EQ(back["steps"], 4);
  EXPECT_EQ(back["symmetric"], false);
  EXPECT_EQ(parse_weight_quant(back, "w").to_json(), back);  // what the store keeps reads back the same
  // A later entry that changes the method drops the options of the old one.
  const ResolvedRecipe switched =
      resolve(Recipe::parse({{"default", {{"weights", with("steps", 4)}}},
                             {"overrides", json::array({{{"match", "model.layers.0.*"}, {"weights", {{"method", "hqq"}}}}})}}),
              *model);
  EXPECT_EQ(switched.find("model.layers.0.self_attn.q_proj")->weights->method, "hqq");
  // b bits, a 16-bit scale and a b-bit zero per group of 16; exportable as an asymmetric int grid.
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 8, 128), 8 * 128 * 4 + 8 * 8 * 20.0);
  EXPECT_EQ(ct_exportable(*model, plan), "");
}

TEST(ZpSearch, RunsThroughThePipeline) {
  auto model = load_model(test::demo("sotu-llama"));
  auto run = [&](const std::string& method) {
    model->reset_compression();
    const json weights = {{"bits", 3}, {"symmetric", false}, {"strategy", "channel"}, {"method", method}};
    const CompressResult r = compress(*model, resolve(Recipe::parse({{"default", {{"weights", weights}}}}), *model), CalibrationSet{});
    double sqnr = 0;
    int n = 0;
    for (const LayerResult& l : r.layers)
      if (l.weight_sqnr_db) sqnr += *l.weight_sqnr_db, ++n;
    EXPECT_GT(n, 0);
    return sqnr / n;
  };
  // On the demo model's weights the searched zero points keep more of the signal than min–max RTN.
  EXPECT_GT(run("zpsearch"), run("rtn"));
}

}  // namespace
}  // namespace quench
