// Recipes: the issue's example is accepted and resolves as documented; every kind of bad recipe
// fails with one message naming the key (and the layer where one is concerned); overrides merge
// field by field, later ones winning; schemes and presets expand; the size estimate's accounting.
#include <gtest/gtest.h>

#include <set>

#include "core/compress/act_quant.h"
#include "core/compress/recipe.h"
#include "core/ops/ggml_grid.h"
#include "core/compress/schemes.h"
#include "core/compress/size_estimate.h"
#include "core/compress/weight_method.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;

const json kExample = json::parse(R"({ "name": "w4a16-gptq-g128",
  "default": { "weights": { "bits": 4, "strategy": "group", "group_size": 128, "symmetric": true, "method": "gptq" } },
  "ignore": ["lm_head"],
  "overrides": [
    { "match": "model.layers.*.mlp.down_proj", "weights": { "bits": 8, "strategy": "channel", "method": "rtn" } },
    { "match": "model.layers.0.*", "skip": true } ],
  "activations": { "bits": 8, "strategy": "tensor", "dynamic": false, "observer": "percentile", "percentile": 99.99 } })");

Model& sotu_llama() {
  static auto m = load_model(test::demo("sotu-llama"));
  return *m;
}
Model& llama_tiny() {
  static auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  return *m;
}
Model& mamba2_tiny() {
  static auto m = load_model(test::fixture("hf-tiny/mamba2-tiny"));
  return *m;
}

// The message of the RecipeError that resolving (or parsing) `j` throws, "" when none.
std::string error_of(const json& j, Model& model, std::string* key = nullptr, std::string* layer = nullptr) {
  try {
    resolve(Recipe::parse(j, "r.json"), model);
  } catch (const RecipeError& e) {
    if (key) *key = e.key();
    if (layer) *layer = e.layer();
    return e.what();
  }
  return "";
}

// Every method in the weight registry (the QUENCH_WEIGHT_METHOD lines the build collects) parses
// with its options, writes them back, reads back the same, and owns them alone.
TEST(WeightQuantizers, EveryRegisteredMethodRoundTrips) {
  std::set<std::string> names;
  for (const char* expected : {"rtn", "gptq", "awq", "dgq", "hqq", "zpsearch"}) EXPECT_NE(find_weight_method(expected), nullptr) << expected;
  for (const WeightMethodInfo* m : weight_methods()) {
    EXPECT_TRUE(names.insert(m->name).second) << m->name;
    EXPECT_EQ(&weight_method(m->name), m);
    // a setting every method takes: asymmetric int4 groups of 32 (DGQ and HQQ require them)
    json j = {{"bits", 4}, {"symmetric", false}, {"strategy", "group"}, {"group_size", 32}, {"method", m->name}};
    WeightQuant plain = parse_weight_quant(j, "w");
    for (const MethodOption& o : m->options) {
      EXPECT_EQ(plain.option(o.key), o.fallback) << m->name << " " << o.key;  // unset: the declared default
      EXPECT_TRUE(plain.to_json().contains(o.key)) << m->name << " " << o.key;
      // a value other than the default
      j[o.key] = o.kind == MethodOption::Kind::Flag      ? json(!o.fallback.get<bool>())
                 : o.kind == MethodOption::Kind::Choice  ? json(o.choices.back().first)
                 : o.kind == MethodOption::Kind::Integer ? json(static_cast<int64_t>(o.min) + 1)
                                                         : json(o.min + (o.max - o.min) / 4);
    }
    const WeightQuant w = parse_weight_quant(j, "w");
    EXPECT_EQ(w.method, m->name);
    for (const MethodOption& o : m->options) EXPECT_EQ(w.option(o.key), j[o.key]) << m->name << " " << o.key;
    EXPECT_EQ(parse_weight_quant(w.to_json(), "w").to_json(), w.to_json()) << m->name;
    EXPECT_NE(w.describe().find(m->name), std::string::npos) << w.describe();
    // each option belongs to its method only
    for (const WeightMethodInfo* other : weight_methods()) {
      if (other == m) continue;
      for (const MethodOption& o : m->options) {
        if (other->option(o.key)) continue;
        json foreign = j;
        foreign["method"] = other->name;
        try {
          parse_weight_quant(foreign, "w");
          ADD_FAILURE() << o.key << " accepted for " << other->name;
        } catch (const RecipeError& e) {
          EXPECT_NE(std::string(e.what()).find("applies to method \"" + std::string(m->name) + "\""), std::string::npos) << e.what();
        }
      }
    }
  }
  EXPECT_EQ(weight_methods().size(), names.size());
  // A foreign option is reported before a bad value of the method's own (as before the registry).
  try {
    parse_weight_quant({{"method", "rtn"}, {"clip", "max"}, {"damp", 0.1}}, "w");
    ADD_FAILURE() << "accepted";
  } catch (const RecipeError& e) {
    EXPECT_EQ(e.key(), "w.damp") << e.what();
  }
  EXPECT_EQ(weight_methods().front()->name, std::string("rtn"));  // the editor's first choice
  EXPECT_EQ(find_weight_method("omniquant"), nullptr);
}

TEST(Recipe, IssueExampleResolvesOnSotuLlama) {
  const auto plan = resolve(Recipe::parse(kExample), sotu_llama());
  EXPECT_EQ(plan.name, "w4a16-gptq-g128");
  const auto* q1 = plan.find("model.layers.1.self_attn.q_proj");
  ASSERT_TRUE(q1 && q1->weights && q1->input);
  EXPECT_EQ(q1->weights->bits, 4);
  EXPECT_EQ(q1->weights->strategy, WeightStrategy::Group);
  EXPECT_EQ(q1->weights->group_size, 128);
  EXPECT_EQ(q1->weights->method, "gptq");
  EXPECT_FALSE(q1->input->dynamic);
  EXPECT_EQ(q1->input->observer, ActObserver::Percentile);
  EXPECT_DOUBLE_EQ(q1->input->percentile, 99.99);
  const auto* d2 = plan.find("model.layers.2.mlp.down_proj");
  ASSERT_TRUE(d2 && d2->weights);
  EXPECT_EQ(d2->weights->bits, 8);
  EXPECT_EQ(d2->weights->strategy, WeightStrategy::Channel);  // the inherited group_size is dropped
  EXPECT_EQ(d2->weights->method, "rtn");
  EXPECT_EQ(d2->field_sources.at("weights.bits"), "overrides[0].weights.bits");
  EXPECT_EQ(d2->field_sources.at("weights.symmetric"), "default.weights.symmetric");
  for (const char* l : {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj"}) {
    ASSERT_TRUE(plan.find(l));
    EXPECT_FALSE(plan.find(l)->compressed()) << l;
    EXPECT_NE(plan.find(l)->status.find("overrides[1]"), std::string::npos) << plan.find(l)->status;
  }
  EXPECT_FALSE(plan.find("lm_head")->compressed());
  EXPECT_NE(plan.find("lm_head")->status.find("ignore[0]"), std::string::npos);
  EXPECT_FALSE(plan.find("model.embed_tokens")->compressed());
  EXPECT_EQ(plan.compressed_layers(), 5 * 7);
  EXPECT_TRUE(plan.warnings.empty()) << plan.warnings.front();
  EXPECT_TRUE(plan.needs_calibration());
  // The per-layer settings JSON round-trips through the weights parser.
  const json s = d2->to_json();
  EXPECT_EQ(s["weights"]["bits"], 8);
  EXPECT_EQ(parse_weight_quant(s["weights"], "x").describe(), d2->weights->describe());
}

TEST(Recipe, GgufSchemesAreGridsWithFallbacksNamed) {
  const ResolvedRecipe plan = resolve(*Recipe::from_name("Q4_K"), sotu_llama());
  const LayerPlan* q = plan.find("model.layers.0.self_attn.q_proj");
  ASSERT_TRUE(q && q->weights && q->weights->ggml);
  EXPECT_EQ(q->weights->unit(), 256);
  EXPECT_EQ(q->weights->ggml_bits_per_weight(), 4.5);
  // The settings JSON round-trips, and names the type as recipes write it.
  const json w = q->to_json()["weights"];
  EXPECT_EQ(w["format"], "q4_k");
  EXPECT_EQ(parse_weight_quant(w, "x").describe(), q->weights->describe());
  // down_proj reads 688 features: not whole super-blocks, so it keeps its float type, and says so.
  const LayerPlan* down = plan.find("model.layers.0.mlp.down_proj");
  ASSERT_TRUE(down);
  EXPECT_FALSE(down->weights);
  EXPECT_NE(down->status.find("do not divide into Q4_K blocks of 256"), std::string::npos) << down->status;
  EXPECT_FALSE(plan.warnings.empty());
  // The type fixes the grid: nothing else may describe it.
  json bad = {{"default", {{"weights", {{"format", "q4_0"}, {"bits", 4}}}}}};
  EXPECT_NE(error_of(bad, sotu_llama()).find("default.weights.bits: is fixed by format"), std::string::npos) << error_of(bad, sotu_llama());
  json act = {{"default", {{"weights", {{"format", "q4_0"}, {"method", "gptq"}, {"act_order", true}}}}}};
  EXPECT_NE(error_of(act, sotu_llama()).find("act_order"), std::string::npos);
}

// FP8 E4M3 (compressed-tensors' "type": "float"): llm-compressor's FP8_DYNAMIC and FP8 schemes,
// the settings round-trip, and what FP8 cannot be is named by key.
TEST(Recipe, Fp8SchemesAndTheirLimits) {
  const ResolvedRecipe dyn = resolve(*Recipe::from_name("FP8_DYNAMIC"), sotu_llama());
  const LayerPlan* q = dyn.find("model.layers.0.mlp.down_proj");  // FP8 has no blocks: 688 inputs are fine
  ASSERT_TRUE(q && q->weights && q->input);
  EXPECT_TRUE(q->weights->fp8 && q->input->fp8);
  EXPECT_EQ(q->weights->strategy, WeightStrategy::Channel);
  EXPECT_EQ(q->input->strategy, ActStrategy::Token);
  EXPECT_EQ(q->weights->describe(), "FP8 E4M3 channel rtn");
  EXPECT_EQ(parse_weight_quant(q->to_json()["weights"], "x").describe(), q->weights->describe());
  EXPECT_TRUE(parse_act_quant(q->to_json()["activations"], "x").fp8);
  const ResolvedRecipe st = resolve(*Recipe::from_name("FP8"), sotu_llama());
  const LayerPlan* t = st.find("model.layers.0.self_attn.q_proj");
  ASSERT_TRUE(t && t->weights && t->input);
  EXPECT_EQ(t->weights->strategy, WeightStrategy::Tensor);
  EXPECT_FALSE(t->input->dynamic);
  auto err = [&](const json& w) { return error_of({{"default", {{"weights", w}}}}, sotu_llama()); };
  EXPECT_NE(err({{"type", "float"}, {"bits", 4}}).find("default.weights.bits: float weights are FP8 E4M3: 8 bits"), std::string::npos);
  EXPECT_NE(err({{"type", "float"}, {"group_size", 32}}).find("default.weights.group_size"), std::string::npos);
  EXPECT_NE(err({{"type", "float"}, {"method", "gptq"}}).find("default.weights.method: FP8 weights are rounded to nearest"), std::string::npos);
  EXPECT_NE(err({{"type", "float"}, {"format", "q4_0"}}).find("default.weights.type"), std::string::npos);
  EXPECT_NE(err({{"type", "fp8"}}).find("default.weights.type"), std::string::npos);
  EXPECT_NE(error_of({{"default", {{"activations", {{"type", "float"}, {"bits", 4}}}}}}, sotu_llama()).find("default.activations.bits"),
            std::string::npos);
}

// W4A4 in E2M1 blocks (llm-compressor's MXFP4 / NVFP4 schemes): the activations take the weights'
// format, are scaled per block of channels at run time with the weights' rounding, and a layer
// whose channels are not whole blocks keeps float weights and activations, saying so.
TEST(Recipe, Fp4ActivationSchemesAndTheirLimits) {
  const ResolvedRecipe nv = resolve(*Recipe::from_name("NVFP4"), sotu_llama());
  const LayerPlan* q = nv.find("model.layers.0.self_attn.q_proj");
  ASSERT_TRUE(q && q->weights && q->input);
  EXPECT_EQ(q->weights->ggml, GgmlType::NVFP4);
  EXPECT_EQ(q->input->fp4, GgmlType::NVFP4);
  EXPECT_TRUE(q->input->dynamic);
  EXPECT_EQ(q->input->describe(), "A NVFP4 dynamic");
  EXPECT_EQ(parse_act_quant(q->to_json()["activations"], "x").fp4, GgmlType::NVFP4);
  const LayerPlan* d = nv.find("model.layers.0.mlp.down_proj");  // 688 inputs: not whole blocks of 64
  EXPECT_TRUE(!d || (!d->weights && !d->input));
  bool told = false;
  for (const auto& w : nv.warnings) told = told || w.find("model.layers.0.mlp.down_proj: its 688 input features") != std::string::npos;
  EXPECT_TRUE(told);
  // An override switching to a format drops the integer fields it inherits.
  const json over = {{"activations", {{"bits", 8}, {"strategy", "token"}, {"dynamic", true}}},
                     {"overrides", json::array({{{"match", "*.q_proj"}, {"activations", {{"format", "mxfp4"}}}}})}};
  const ResolvedRecipe o = resolve(Recipe::parse(over, "r.json"), sotu_llama());
  ASSERT_TRUE(o.find("model.layers.1.self_attn.q_proj") && o.find("model.layers.1.self_attn.q_proj")->input);
  EXPECT_EQ(o.find("model.layers.1.self_attn.q_proj")->input->fp4, GgmlType::MXFP4);
  EXPECT_FALSE(o.find("model.layers.1.self_attn.k_proj")->input->fp4);
  auto err = [&](const json& a) { return error_of({{"default", {{"activations", a}}}}, sotu_llama()); };
  EXPECT_NE(err({{"format", "nvfp4"}, {"bits", 8}}).find("default.activations.bits: format \"nvfp4\" holds 4-bit"), std::string::npos);
  EXPECT_NE(err({{"format", "mxfp4"}, {"dynamic", false}}).find("default.activations.dynamic"), std::string::npos);
  EXPECT_NE(err({{"format", "fp4"}}).find("default.activations.format"), std::string::npos);
  const json point = {{"points", json::array({{{"match", "*"}, {"activations", {{"format", "mxfp4"}}}}})}};
  EXPECT_NE(error_of(point, sotu_llama()).find("points[0].activations.format"), std::string::npos) << error_of(point, sotu_llama());
}

// The activations' blocks run along the channel dimension wherever it is, with the grid and
// rounding of a weight row of that format; a width that is not whole blocks is an error.
TEST(Recipe, Fp4ActivationsAreWeightRowsOfTheirFormat) {
  at::manual_seed(3);
  for (GgmlType t : {GgmlType::MXFP4, GgmlType::NVFP4}) {
    ActQuant a;
    a.fp4 = t;
    a.bits = 4;
    a.dynamic = true;
    const at::Tensor x = at::randn({2, 5, 128}) * 3;
    const at::Tensor rows = ops::ggml_fake_quant(x.reshape({-1, 128}), t).reshape(x.sizes());
    EXPECT_TRUE(at::equal(act_fake_quant(x, a, {}, -1), rows));
    EXPECT_TRUE(at::equal(act_fake_quant(x.movedim(-1, 1), a, {}, 1), rows.movedim(-1, 1)));  // [N, C, L]
    EXPECT_FALSE(at::equal(rows, x));
    EXPECT_THROW(act_fake_quant(at::randn({4, 48}), a, {}, -1), std::exception);
  }
}

TEST(Recipe, UnknownKeysAreErrorsNamingTheKey) {
  std::string key;
  json j = kExample;
  j["activation"] = json::object();
  EXPECT_NE(error_of(j, sotu_llama(), &key).find("recipe.activation: unknown key"), std::string::npos);
  j = kExample;
  j["default"]["weights"]["num_bits"] = 4;
  const std::string e = error_of(j, sotu_llama(), &key);
  EXPECT_NE(e.find("default.weights.num_bits: unknown key (did you mean 'bits'?)"), std::string::npos) << e;
  EXPECT_EQ(e.rfind("r.json: ", 0), 0u) << e;
  j = kExample;
  j["overrides"][0]["weigths"] = json::object();
  EXPECT_NE(error_of(j, sotu_llama()).find("overrides[0].weigths: unknown key"), std::string::npos);
  j = kExample;
  j["overrides"][1].erase("match");
  EXPECT_NE(error_of(j, sotu_llama()).find("overrides[1]: an override needs \"match\""), std::string::npos);
}

TEST(Recipe, ImpossibleValuesAreErrors) {
  std::string key;
  json j = kExample;
  j["default"]["weights"]["bits"] = 9;
  EXPECT_NE(error_of(j, sotu_llama(), &key).find("default.weights.bits: 9 is outside 2–8"), std::string::npos);
  EXPECT_EQ(key, "default.weights.bits");
  j = kExample;
  j["overrides"][0]["weights"]["bits"] = 1;  // even in an override: checked before it is applied
  EXPECT_NE(error_of(j, sotu_llama()).find("overrides[0].weights.bits: 1 is outside 2–8"), std::string::npos);
  j = kExample;
  j["activations"]["percentile"] = 120;
  EXPECT_NE(error_of(j, sotu_llama()).find("activations.percentile"), std::string::npos);
  j = kExample;
  j["default"]["weights"]["method"] = "gptqq";
  EXPECT_NE(error_of(j, sotu_llama()).find("\"gptqq\" is not one of"), std::string::npos);
  j = kExample;
  j["activations"] = {{"strategy", "token"}, {"dynamic", false}};
  EXPECT_NE(error_of(j, sotu_llama()).find("must be dynamic"), std::string::npos);
  j = kExample;
  j["default"]["weights"]["damp"] = 0.1;
  j["default"]["weights"]["method"] = "rtn";
  EXPECT_NE(error_of(j, sotu_llama()).find("damp: applies to method \"gptq\""), std::string::npos);
  j = json::parse(R"({"default": {"scheme": "W9A16"}})");
  EXPECT_NE(error_of(j, sotu_llama()).find("default.scheme: \"W9A16\" is not a known scheme"), std::string::npos);
}

TEST(Recipe, DgqSettingsAndTheirLimits) {
  const ResolvedRecipe r = resolve(Recipe::parse({{"default", {{"weights", {{"bits", 4}, {"group_size", 64}, {"group_fallback", true}, {"method", "dgq"}}}}}}), sotu_llama());
  const LayerPlan* q = r.find("model.layers.0.self_attn.q_proj");
  ASSERT_TRUE(q && q->weights);
  EXPECT_EQ(q->weights->method, "dgq");
  EXPECT_FALSE(q->weights->symmetric);  // DGQ's default
  EXPECT_TRUE(r.needs_calibration());
  EXPECT_EQ(q->weights->describe(), "W4 asym g64 dgq");
  EXPECT_EQ(parse_weight_quant(q->to_json()["weights"], "x").describe(), q->weights->describe());
  auto err = [&](const json& w) { return error_of({{"default", {{"weights", w}}}}, sotu_llama()); };
  EXPECT_NE(err({{"bits", 4}, {"strategy", "channel"}, {"method", "dgq"}}).find("default.weights.strategy: method \"dgq\" quantizes in groups"),
            std::string::npos);
  EXPECT_NE(err({{"bits", 4}, {"group_size", 64}, {"symmetric", true}, {"method", "dgq"}}).find("default.weights.symmetric"), std::string::npos);
  EXPECT_NE(err({{"bits", 8}, {"group_size", 64}, {"method", "dgq"}}).find("default.weights.bits: method \"dgq\" takes 2 to 4 bits"),
            std::string::npos);
  EXPECT_NE(err({{"format", "q4_0"}, {"method", "dgq"}}).find("default.weights.method"), std::string::npos);
}

TEST(Recipe, ZipCacheSettingsAndTheirLimits) {
  const ResolvedRecipe r = resolve(Recipe::parse({{"kv_cache", {{"method", "zipcache"}, {"salient", 0.25}}}}), sotu_llama());
  ASSERT_FALSE(r.kv.empty());
  EXPECT_EQ(r.kv[0].kv.method, KvMethod::ZipCache);
  EXPECT_EQ(r.kv[0].q_point, "model.layers.0.self_attn:q");
  EXPECT_GT(r.kv[0].head_dim, 0);
  EXPECT_DOUBLE_EQ(r.kv[0].kv.bits_per_element(), 0.25 * 4 + 0.75 * 2 + 1.0);
  EXPECT_EQ(parse_kv_quant(r.kv[0].kv.to_json(), "x").describe(), r.kv[0].kv.describe());
  auto err = [&](const json& kv) { return error_of({{"kv_cache", kv}}, sotu_llama()); };
  EXPECT_NE(err({{"method", "zipcache"}, {"residual", 128}}).find("kv_cache.residual: is a KIVI setting"), std::string::npos);
  EXPECT_NE(err({{"method", "zipcache"}, {"bits", 4}, {"high_bits", 2}}).find("kv_cache.high_bits: 2 is below bits 4"), std::string::npos);
  EXPECT_NE(err({{"method", "kivi"}, {"salient", 0.5}}).find("kv_cache.salient: is a ZipCache setting"), std::string::npos);
  EXPECT_NE(err({{"method", "zipcache"}, {"salient", 1.5}}).find("kv_cache.salient"), std::string::npos);
  // An override that switches the method drops the other method's settings.
  const ResolvedRecipe o = resolve(Recipe::parse(json::parse(R"({"kv_cache": {"method": "kivi", "residual": 64},
      "overrides": [{"match": "model.layers.1.self_attn", "kv_cache": {"method": "zipcache"}}]})")), sotu_llama());
  ASSERT_EQ(o.kv.size(), 6u);
  EXPECT_EQ(o.kv[0].kv.method, KvMethod::Kivi);
  EXPECT_EQ(o.kv[1].kv.method, KvMethod::ZipCache);
}

// A scheme is a default and must work on the bundled model: where its group does not divide a
// layer's inputs, the layer takes the largest divisor below and the plan warns. A group size a
// recipe spells out is exact unless it asks for the fallback, and a later explicit size ends it.
TEST(Recipe, SchemesFallBackToTheLargestDivisorAndSaySo) {
  const auto plan = resolve(*Recipe::from_name("W4A16-G128"), sotu_llama());
  const auto* down = plan.find("model.layers.2.mlp.down_proj");
  ASSERT_TRUE(down->weights);
  EXPECT_EQ(down->weights->group_size, 86);  // 688 = 8·86
  EXPECT_EQ(plan.find("model.layers.2.mlp.up_proj")->weights->group_size, 128);
  int warned = 0;
  for (const auto& w : plan.warnings) warned += w.find("group_size 128 does not divide its 688 input features; it uses 86") != std::string::npos;
  EXPECT_EQ(warned, 6);
  EXPECT_EQ(down->weights->to_json().value("group_fallback", false), true);  // recorded with the run

  json asked = json::parse(R"({"default": {"weights": {"bits": 4, "group_size": 100, "group_fallback": true}}})");
  EXPECT_EQ(resolve(Recipe::parse(asked), sotu_llama()).find("model.layers.0.self_attn.q_proj")->weights->group_size, 64);  // 256 inputs
  json exact = json::parse(R"({"default": {"scheme": "W4A16-G128"}, "overrides": [{"match": "*.down_proj", "weights": {"group_size": 100}}]})");
  EXPECT_NE(error_of(exact, sotu_llama()).find("group_size 100 does not divide the 688 input features"), std::string::npos)
      << error_of(exact, sotu_llama());
  EXPECT_NE(error_of(exact, sotu_llama()).find("group_fallback"), std::string::npos);
  // No divisor of 97 (prime) from 16 up: one scale per output channel, said so.
  auto bias_tiny = load_model(test::fixture("hf-tiny/llama-bias-tiny"));
  const auto prime = resolve(*Recipe::from_name("W4A16-G32"), *bias_tiny);
  const auto* down97 = prime.find("model.layers.0.mlp.down_proj");
  ASSERT_TRUE(down97 && down97->weights);
  EXPECT_EQ(down97->weights->strategy, WeightStrategy::Channel);
  bool said = false;
  for (const auto& w : prime.warnings) said = said || w.find("one scale per output channel") != std::string::npos;
  EXPECT_TRUE(said);
  json channel = json::parse(R"({"default": {"weights": {"bits": 4, "strategy": "channel", "group_fallback": true}}})");
  EXPECT_NE(error_of(channel, sotu_llama()).find("group_fallback: is only used with strategy \"group\""), std::string::npos)
      << error_of(channel, sotu_llama());
}

TEST(Recipe, GroupSizeMustDivideTheInputsNamingKeyAndLayer) {
  // sotu-llama's down_proj has 688 = 4·172 inputs.
  json j = kExample;
  j["overrides"].erase(0);
  std::string key, layer;
  const std::string e = error_of(j, sotu_llama(), &key, &layer);
  EXPECT_NE(e.find("default.weights.group_size: group_size 128 does not divide the 688 input features of model.layers.1.mlp.down_proj "
                   "(divisors near it: 86, 172)"),
            std::string::npos)
      << e;
  EXPECT_EQ(key, "default.weights.group_size");
  EXPECT_EQ(layer, "model.layers.1.mlp.down_proj");
  // Fixed by an override that only changes the group size.
  j["overrides"].push_back({{"match", "*.down_proj"}, {"weights", {{"group_size", 172}}}});
  const auto plan = resolve(Recipe::parse(j), sotu_llama());
  EXPECT_EQ(plan.find("model.layers.3.mlp.down_proj")->weights->group_size, 172);
  EXPECT_EQ(plan.find("model.layers.3.mlp.down_proj")->weights->method, "gptq");
}

TEST(Recipe, MethodsThatDoNotApplyToTheLayerKind) {
  std::string key, layer;
  json j = {{"overrides", {{{"match", "model.embed_tokens"}, {"weights", {{"bits", 4}, {"strategy", "channel"}, {"method", "gptq"}}}}}}};
  std::string e = error_of(j, llama_tiny(), &key, &layer);
  EXPECT_NE(e.find("overrides[0].weights.method: method \"gptq\" applies to Linear layers; model.embed_tokens is a Embedding"), std::string::npos)
      << e;
  EXPECT_EQ(layer, "model.embed_tokens");
  j = {{"overrides", {{{"match", "model.embed_tokens"}, {"activations", {{"bits", 8}}}}}}};
  e = error_of(j, llama_tiny());
  EXPECT_NE(e.find("an Embedding's input is token ids; activation quantization does not apply to model.embed_tokens"), std::string::npos) << e;
  j = {{"overrides", {{{"match", "*.mlp.down_proj"}, {"rotation", "hadamard"}}}}};  // 176 = 11·16
  e = error_of(j, llama_tiny(), &key, &layer);
  EXPECT_NE(e.find("no Hadamard matrix of size 176"), std::string::npos) << e;
  EXPECT_EQ(key, "overrides[0].rotation");
  j = {{"overrides", {{{"match", "*.mlp.down_proj"}, {"rotation", nullptr}}}}};  // a value is named once, long ones cut short
  e = error_of(j, llama_tiny());
  EXPECT_NE(e.find("must be one of \"hadamard\", \"none\", got null"), std::string::npos) << e;
  EXPECT_EQ(e.find("null null"), std::string::npos) << e;
  j = {{"overrides", {{{"match", "*.mlp.down_proj"}, {"rotation", json(std::vector<int>(100, 7))}}}}};
  e = error_of(j, llama_tiny());
  EXPECT_NE(e.find("got an array [7,7,"), std::string::npos) << e;
  EXPECT_LT(e.size(), 200u) << e;
  j = {{"overrides", {{{"match", "*.conv1d"}, {"weights", {{"method", "awq"}}}}}}};
  EXPECT_NE(error_of(j, mamba2_tiny()).find("is a Conv1d"), std::string::npos);
  j = {{"kv_cache", {{"bits", 2}}}};
  EXPECT_NE(error_of(j, mamba2_tiny()).find("no attention modules"), std::string::npos);
  j = {{"overrides", {{{"match", "*.mlp.*"}, {"kv_cache", {{"bits", 4}, {"residual", 32}}}}}}};
  EXPECT_NE(error_of(j, llama_tiny()).find("overrides[0].kv_cache: matches no attention module"), std::string::npos);
  j = {{"preset", "quamba"}};
  EXPECT_NE(error_of(j, llama_tiny()).find("is a recipe for Mamba and Mamba-2"), std::string::npos);
  j = {{"smoothquant", {{"alpha", 0.5}}}, {"scheme", "W8A8"}};
  EXPECT_EQ(error_of(j, llama_tiny()), "");
}

TEST(Recipe, LaterOverridesWinFieldByField) {
  const json j = json::parse(R"({"default": {"scheme": "W4A16-G16", "weights": {"method": "gptq", "damp": 0.05}},
    "overrides": [
      {"match": "model.layers.*", "weights": {"bits": 3}},
      {"match": "model.layers.1.*", "weights": {"method": "rtn"}, "activations": {"bits": 8, "strategy": "token"}},
      {"match": "model.layers.1.self_attn.o_proj", "activations": null, "weights": {"strategy": "channel", "clip": "mse"}} ]})");
  const auto plan = resolve(Recipe::parse(j), llama_tiny());
  const auto* q0 = plan.find("model.layers.0.self_attn.q_proj");
  EXPECT_EQ(q0->weights->bits, 3);
  EXPECT_EQ(q0->weights->group_size, 16);
  EXPECT_EQ(q0->weights->method, "gptq");
  EXPECT_DOUBLE_EQ(q0->weights->number("damp"), 0.05);
  EXPECT_FALSE(q0->input);
  const auto* q1 = plan.find("model.layers.1.self_attn.q_proj");
  EXPECT_EQ(q1->weights->method, "rtn");  // gptq's damp is dropped with the method
  ASSERT_TRUE(q1->input);
  EXPECT_TRUE(q1->input->dynamic);
  const auto* o1 = plan.find("model.layers.1.self_attn.o_proj");
  EXPECT_EQ(o1->weights->strategy, WeightStrategy::Channel);
  EXPECT_EQ(o1->weights->text("clip"), "mse");
  EXPECT_FALSE(o1->input);
  EXPECT_EQ(o1->sources, (std::vector<std::string>{"default", "overrides[0]", "overrides[1]", "overrides[2]"}));
}

TEST(Recipe, WhatTheDefaultReaches) {
  const auto plan = resolve(Recipe::parse({{"scheme", "W8A8"}}), mamba2_tiny());
  EXPECT_TRUE(plan.find("backbone.layers.0.mixer.in_proj")->compressed());
  EXPECT_TRUE(plan.find("backbone.layers.0.mixer.out_proj")->compressed());
  EXPECT_FALSE(plan.find("backbone.layers.0.mixer.conv1d")->compressed());
  EXPECT_FALSE(plan.find("backbone.embeddings")->compressed());
  EXPECT_FALSE(plan.find("lm_head")->compressed());
  EXPECT_NE(plan.find("lm_head")->status.find("output head"), std::string::npos);
  // An override naming them compresses them.
  const auto p2 = resolve(Recipe::parse(json::parse(R"({"scheme": "W8A8", "overrides": [
      {"match": ["lm_head", "backbone.embeddings"], "weights": {"bits": 8, "strategy": "channel"}}]})")),
                          mamba2_tiny());
  EXPECT_TRUE(p2.find("lm_head")->weights);
  EXPECT_FALSE(p2.find("lm_head")->input);  // the default does not reach it: only the override's weights apply
  EXPECT_TRUE(p2.find("backbone.embeddings")->weights);
  EXPECT_FALSE(p2.find("backbone.embeddings")->input);
}

TEST(Recipe, UnmatchedEntriesAreWarnings) {
  // Recipes travel between models: entries that match nothing are reported, not fatal.
  const auto plan = resolve(Recipe::parse(json::parse(R"({"scheme": "W8A8", "overrides": [{"match": "backbone.*", "skip": true}],
      "ignore": ["lm_head", "vision_tower.*"]})")),
                            llama_tiny());
  ASSERT_EQ(plan.warnings.size(), 2u);
  EXPECT_NE(plan.warnings[0].find("overrides[0] (match 'backbone.*') matches no layer of LlamaForCausalLM"), std::string::npos)
      << plan.warnings[0];
  EXPECT_NE(plan.warnings[1].find("ignore[1] 'vision_tower.*' matches no layer"), std::string::npos) << plan.warnings[1];
}

TEST(Recipe, SchemesExpandAsCompressedTensorsNamesThem) {
  auto w8a8 = expand_scheme("W8A8");
  ASSERT_TRUE(w8a8);
  EXPECT_EQ(w8a8->weights["strategy"], "channel");
  EXPECT_EQ(w8a8->activations["strategy"], "token");
  auto w4 = expand_scheme("w4a16");
  ASSERT_TRUE(w4);
  EXPECT_EQ(w4->weights["group_size"], 128);
  EXPECT_TRUE(w4->activations.is_null());
  auto g = expand_scheme("W4A16-G64");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->weights["group_size"], 64);
  EXPECT_TRUE(expand_scheme("W4A8"));
  EXPECT_FALSE(expand_scheme("W1A16"));
  ASSERT_TRUE(expand_scheme("fp8_dynamic"));  // llm-compressor's FP8 schemes
  EXPECT_EQ(expand_scheme("FP8")->weights["type"], "float");
  EXPECT_FALSE(expand_scheme("FP4"));
  EXPECT_FALSE(expand_scheme("W4A16-X"));
  ASSERT_TRUE(Recipe::from_name("W4A16-G16"));
  ASSERT_TRUE(Recipe::from_name("quamba"));
  EXPECT_FALSE(Recipe::from_name("nope"));
}

TEST(Recipe, QuambaPresetOnMamba2) {
  const auto plan = resolve(*Recipe::from_name("quamba"), mamba2_tiny());
  const auto* out = plan.find("backbone.layers.1.mixer.out_proj");
  ASSERT_TRUE(out && out->weights && out->input);
  EXPECT_TRUE(out->hadamard);
  EXPECT_EQ(out->weights->strategy, WeightStrategy::Tensor);
  EXPECT_FALSE(out->input->dynamic);
  EXPECT_TRUE(plan.find("backbone.layers.1.mixer.conv1d")->weights);
  ASSERT_EQ(plan.points.size(), 2u * 3u);
  EXPECT_EQ(plan.points[0].point, "backbone.layers.0.mixer:x");
  EXPECT_EQ(plan.points[0].act.observer, ActObserver::Percentile);
  EXPECT_DOUBLE_EQ(plan.points[0].act.percentile, 99.999);
  // Quamba on Mamba-1: x is quantized once, at the point, not again as x_proj's input.
  auto mamba = load_model(test::fixture("hf-tiny/mamba-tiny"));
  const auto p1 = resolve(*Recipe::from_name("quamba"), *mamba);
  EXPECT_FALSE(p1.find("backbone.layers.0.mixer.x_proj")->input);
  EXPECT_TRUE(p1.find("backbone.layers.0.mixer.x_proj")->output);
}

TEST(Recipe, KvCacheOnAttentionModules) {
  const json j = json::parse(R"({"kv_cache": {"bits": 2, "group_size": 16, "residual": 32},
    "overrides": [{"match": "model.layers.1.self_attn", "kv_cache": {"bits": 4}}]})");
  const auto plan = resolve(Recipe::parse(j), llama_tiny());
  ASSERT_EQ(plan.kv.size(), 2u);
  EXPECT_EQ(plan.kv[0].kv.bits, 2);
  EXPECT_EQ(plan.kv[1].kv.bits, 4);
  EXPECT_EQ(plan.kv[1].kv.group_size, 16);
  EXPECT_EQ(plan.kv[1].k_point, "model.layers.1.self_attn:k");
  EXPECT_DOUBLE_EQ(plan.kv[0].kv.bits_per_element(), 2 + 32.0 / 16);
  EXPECT_NE(error_of(json::parse(R"({"kv_cache": {"group_size": 32, "residual": 48}})"), llama_tiny()).find("multiple of group_size"),
            std::string::npos);
}

// MXFP4 / NVFP4 KV caches: a fixed format (nothing to set), blocks that must stay within a head.
// llama-tiny's heads are 16 wide: whole NVFP4 blocks, not MXFP4's 32.
TEST(Recipe, Fp4KvCacheFormatsAndTheirLimits) {
  const auto plan = resolve(Recipe::parse({{"kv_cache", {{"method", "nvfp4"}}}}), llama_tiny());
  ASSERT_EQ(plan.kv.size(), 2u);
  EXPECT_EQ(plan.kv[0].kv.method, KvMethod::Nvfp4);
  EXPECT_DOUBLE_EQ(plan.kv[0].kv.bits_per_element(), 4.5);
  EXPECT_EQ(plan.kv[0].kv.describe(), "NVFP4 (E2M1, E4M3 scale per 16)");
  EXPECT_EQ(plan.kv[0].kv.to_json(), json({{"method", "nvfp4"}}));
  EXPECT_FALSE(plan.needs_calibration());  // scaled at run time
  const std::string narrow = error_of({{"kv_cache", {{"method", "mxfp4"}}}}, llama_tiny());
  EXPECT_NE(narrow.find("kv_cache.method: \"mxfp4\" quantizes blocks of 32 channels within a head, and model.layers.0.self_attn's "
                        "heads are 16 wide"),
            std::string::npos)
      << narrow;
  const std::string extra = error_of({{"kv_cache", {{"method", "nvfp4"}, {"bits", 4}}}}, llama_tiny());
  EXPECT_NE(extra.find("kv_cache.bits: is a KIVI setting; method \"nvfp4\" has none"), std::string::npos) << extra;
  const auto sotu = resolve(Recipe::parse({{"kv_cache", {{"method", "mxfp4"}}}}), sotu_llama());
  EXPECT_DOUBLE_EQ(sotu.kv.front().kv.bits_per_element(), 4.25);
}

TEST(SizeEstimate, Accounting) {
  WeightQuant w;
  w.bits = 4;
  w.strategy = WeightStrategy::Group;
  w.group_size = 128;
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 256, 256) / (256.0 * 256), 4 + 16.0 / 128);
  w.symmetric = false;
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 256, 256) / (256.0 * 256), 4 + 20.0 / 128);
  w.method = "dgq";  // a 4-bit zero and an 8-bit scale per group, an fp16 scale per row
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 256, 256), 256.0 * 256 * 4 + 256 * 2 * 12 + 256 * 16);
  w.method = "rtn";
  w.strategy = WeightStrategy::Channel;
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 10, 100), 10 * 100 * 4 + 10 * 20);
  w.strategy = WeightStrategy::Tensor;
  EXPECT_DOUBLE_EQ(quantized_weight_bits(w, 10, 100), 10 * 100 * 4 + 20);

  // sotu-llama: tied embedding/head. Uniform W4A16-G16 on every block linear.
  Model& m = sotu_llama();
  const auto none = estimate_size(m, resolve(Recipe::parse({{"name", "none"}}), m));
  EXPECT_EQ(none.original_bytes, 2 * m.parameter_count());
  EXPECT_EQ(none.bytes, none.original_bytes);
  const auto plan = resolve(*Recipe::from_name("W4A16-G16"), m);
  const auto e = estimate_size(m, plan);
  EXPECT_DOUBLE_EQ(e.quantized_bits_per_weight, 5.0);
  int64_t block_weights = 0;
  for (const auto& l : m.layers())
    if (l->name().rfind("model.layers.", 0) == 0) block_weights += l->weight().numel();
  EXPECT_EQ(e.quantized_weights, block_weights);
  EXPECT_EQ(e.bytes, none.bytes - block_weights * 16 / 8 + block_weights * 5 / 8);
  // Quantizing the (tied) head as well stores it apart from the 16-bit embedding.
  const auto with_head = estimate_size(
      m, resolve(Recipe::parse(json::parse(R"({"scheme": "W4A16-G16", "overrides": [{"match": "lm_head", "weights": {"bits": 8}}]})")), m));
  const int64_t head = m.layer("lm_head").weight().numel(), rows = m.layer("lm_head").weight().size(0);
  EXPECT_EQ(with_head.bytes, e.bytes + (head * 8 + rows * 16) / 8);  // per channel: one fp16 scale per row
}

}  // namespace
}  // namespace quench
