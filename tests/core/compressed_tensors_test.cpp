// compressed-tensors export: sotu-llama compressed six ways, written, and read back by an
// independent reader (tests/compressed_tensors/read_ct.py, Python + numpy, written from the
// format's sources). Every rebuilt weight must equal the layer's weight exactly: the reader
// computes (q − z)·s in float64, which is exact (|q − z| < 2^8, s an F32 number), and rounding
// it once to F32 gives what Quench's F32 dequantize x̂ = (q − z)·s computed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "core/compress/compress.h"
#include "core/compress/size_estimate.h"
#include "core/export/compressed_tensors.h"
#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

CalibrationSet random_calib(int64_t vocab, int64_t n = 8, int64_t T = 32, uint64_t seed = 3) {
  at::manual_seed(seed);
  return CalibrationSet::from_token_windows(at::randint(0, vocab, {n, T}, at::kLong), 4);
}

std::string reader() { return test::fixture("../compressed_tensors/read_ct.py"); }

// sotu-llama's down_proj has 688 = 4·172 inputs: groups of 128 do not divide it.
json g128(json weights) {
  return {{"default", {{"weights", weights}}}, {"overrides", json::array({{{"match", "*.mlp.down_proj"}, {"weights", {{"group_size", 172}}}}})}};
}

struct Exported {
  std::unique_ptr<Model> model;
  ResolvedRecipe plan;
  json config;
  std::map<std::string, at::Tensor> rebuilt;
  int64_t file_bytes = 0;
  std::string dir;
  std::map<std::string, ops::QuantParams> static_inputs;
  std::map<std::string, std::pair<double, double>> kv_scales;
};

void export_and_read(const json& recipe, const test::TempDir& tmp, Exported& x) {
  x.model = load_model(test::demo("sotu-llama"));
  x.plan = resolve(Recipe::parse(recipe), *x.model);
  ASSERT_EQ(ct_exportable(*x.model, x.plan), "");
  const auto calib = random_calib(x.model->config().get_int("vocab_size"));
  const CompressResult result = compress(*x.model, x.plan, calib);
  CtExportOptions o;
  o.static_inputs = x.static_inputs = result.static_inputs;
  o.kv_scales = x.kv_scales = result.kv_scales;
  const std::string dir = x.dir = tmp.file("ct");
  export_compressed_tensors(*x.model, x.plan, dir, o);
  const std::string out = tmp.file("rebuilt.safetensors");
  const std::string cmd = "/usr/bin/python3 '" + reader() + "' '" + dir + "' '" + out + "' --quiet";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  x.rebuilt = load_all_safetensors(out);
  x.config = json::parse(test::read_file(dir + "/config.json"));
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") x.file_bytes += static_cast<int64_t>(fs::file_size(e.path()));
}

// Every layer stored in the checkpoint comes back bit-exact (F32), and so does every other parameter
// at the checkpoint's dtype.
void expect_exact(const Exported& x) {
  int checked = 0;
  for (const auto& lp : x.model->layers()) {
    const std::string name = lp->name() + ".weight";
    if (!x.model->checkpoint().has(name)) continue;  // the tied head
    auto it = x.rebuilt.find(name);
    ASSERT_NE(it, x.rebuilt.end()) << name;
    const at::Tensor w = lp->weight().detach().to(at::kCPU, at::kFloat).reshape(it->second.sizes());
    const at::Tensor r = it->second.to(at::kFloat);
    EXPECT_TRUE(at::equal(r, w)) << name << ": max |diff| " << (r - w).abs().max().item<double>();
    ++checked;
  }
  EXPECT_GT(checked, 40);
  for (const auto& [name, t] : x.model->params()) {
    auto it = x.rebuilt.find(name);
    ASSERT_NE(it, x.rebuilt.end()) << name;
    EXPECT_TRUE(at::equal(it->second.to(at::kFloat), t.to(at::kBFloat16).to(at::kFloat))) << name;
  }
}

std::string qconf_format(const Exported& x) {
  const json& q = x.config.at("quantization_config");
  return q.contains("format") ? q.at("format").get<std::string>() : std::string("dense");
}

// Quench's own reader (core/io/ct_decode.h) opens the export as a model: every decoded weight equals
// the compressed layer's, and the reopened model computes the compressed model's logits.
// (Activation quantization is the engine's business at run time, not the file's: for W8A8 the
// compressed model's activation quantizers are removed before the logits are compared.)
void expect_import_exact(const Exported& x, bool drop_activation_quant = false) {
  auto back = load_model(x.dir);
  EXPECT_EQ(back->checkpoint().compressed_tensors_format(), qconf_format(x));
  int checked = 0;
  for (const auto& lp : x.model->layers()) {
    const std::string name = lp->name() + ".weight";
    if (!x.model->checkpoint().has(name)) continue;
    ASSERT_TRUE(back->checkpoint().has(name)) << name;
    const at::Tensor got = back->checkpoint().load(name).to(at::kFloat);
    const at::Tensor w = lp->weight().detach().to(at::kCPU, at::kFloat).reshape(got.sizes());
    EXPECT_TRUE(at::equal(got, w)) << name << ": max |diff| " << (got - w).abs().max().item<double>();
    ++checked;
  }
  EXPECT_GT(checked, 40);
  ModelInputs in;
  at::manual_seed(5);
  in.input_ids = at::randint(0, x.model->config().get_int("vocab_size"), {2, 24}, at::kLong);
  if (drop_activation_quant) x.model->hooks().clear_transforms();
  const at::Tensor want = x.model->forward(in).logits, got = back->forward(in).logits;
  EXPECT_LT(test::rel_error(got, want), 1e-5);
}

const json& qconf(const Exported& x) { return x.config.at("quantization_config"); }

TEST(CompressedTensors, W4A16G128SymmetricPackedExactAndSized) {
  test::TempDir tmp;
  Exported x;
  export_and_read(g128({{"bits", 4}, {"strategy", "group"}, {"group_size", 128}, {"symmetric", true}}), tmp, x);
  expect_exact(x);
  expect_import_exact(x);
  const json& q = qconf(x);
  EXPECT_EQ(q.at("quant_method"), "compressed-tensors");
  EXPECT_EQ(q.at("quantization_status"), "compressed");
  EXPECT_EQ(q.at("format"), "pack-quantized");
  EXPECT_EQ(q.at("config_groups").size(), 2u);  // g128 and the down_proj's g172
  EXPECT_NE(std::find(q.at("ignore").begin(), q.at("ignore").end(), "lm_head"), q.at("ignore").end());
  const SizeEstimate est = estimate_size(*x.model, x.plan);
  const double rel = static_cast<double>(x.file_bytes - est.bytes) / static_cast<double>(est.bytes);
  std::cout << "[ct size] W4A16-G128 safetensors bytes " << x.file_bytes << ", estimate_size " << est.bytes << ", rel " << rel << "\n";
  RecordProperty("file_bytes", std::to_string(x.file_bytes));
  RecordProperty("estimate_bytes", std::to_string(est.bytes));
  EXPECT_LT(std::abs(rel), 0.02);
}

TEST(CompressedTensors, W4G128AsymmetricPackedZeroPointsExact) {
  test::TempDir tmp;
  Exported x;
  export_and_read(g128({{"bits", 4}, {"strategy", "group"}, {"group_size", 128}, {"symmetric", false}}), tmp, x);
  expect_exact(x);
  expect_import_exact(x);
  EXPECT_FALSE(qconf(x).at("config_groups").at("group_0").at("weights").at("symmetric").get<bool>());
}

TEST(CompressedTensors, W8A16ChannelExact) {
  test::TempDir tmp;
  Exported x;
  export_and_read({{"default", {{"weights", {{"bits", 8}, {"strategy", "channel"}}}}}}, tmp, x);
  expect_exact(x);
  expect_import_exact(x);
  const json& g = qconf(x).at("config_groups").at("group_0");
  EXPECT_EQ(g.at("targets"), json::array({"Linear"}));
  EXPECT_EQ(g.at("weights").at("strategy"), "channel");
}

TEST(CompressedTensors, GptqActOrderG128WritesGIdxExact) {
  test::TempDir tmp;
  Exported x;
  export_and_read(g128({{"bits", 4}, {"strategy", "group"}, {"group_size", 128}, {"method", "gptq"}, {"act_order", true}}), tmp, x);
  expect_exact(x);
  expect_import_exact(x);
  for (const auto& [k, g] : qconf(x).at("config_groups").items()) EXPECT_EQ(g.at("weights").at("actorder"), "group") << k;
}

TEST(CompressedTensors, W8A8DynamicIntQuantizedExact) {
  test::TempDir tmp;
  Exported x;
  export_and_read({{"scheme", "W8A8"}}, tmp, x);
  expect_exact(x);
  expect_import_exact(x, true);
  const json& g = qconf(x).at("config_groups").at("group_0");
  EXPECT_EQ(g.at("format"), "int-quantized");
  EXPECT_EQ(g.at("input_activations").at("strategy"), "token");
  EXPECT_TRUE(g.at("input_activations").at("dynamic").get<bool>());
}

// Static per-tensor input activations (vLLM's W8A8 static): each layer's calibrated scale is
// written as input_scale F32 [1], the asymmetric ones' zero point as input_zero_point int8 in the
// signed range; the independent reader checks their presence, shapes and dtypes, and returns
// them, which must equal what Quench's forward pass applied.
TEST(CompressedTensors, W8A8StaticInputScalesWritten) {
  test::TempDir tmp;
  Exported x;
  const json sym = {{"bits", 8}, {"strategy", "tensor"}, {"dynamic", false}};
  json asym = sym;
  asym["symmetric"] = false;
  export_and_read({{"default", {{"weights", {{"bits", 8}, {"strategy", "channel"}}}, {"activations", sym}}},
                   {"overrides", json::array({{{"match", "*.mlp.*"}, {"activations", asym}}})}},
                  tmp, x);
  expect_exact(x);
  expect_import_exact(x, true);
  ASSERT_EQ(x.static_inputs.size(), 42u);  // 6 blocks × 7 projections
  int asymmetric = 0;
  for (const auto& [layer, p] : x.static_inputs) {
    const auto s = x.rebuilt.find(layer + ".input_scale");
    ASSERT_NE(s, x.rebuilt.end()) << layer;
    EXPECT_EQ(s->second.item<double>(), static_cast<double>(p.scale.item<float>())) << layer;
    const auto z = x.rebuilt.find(layer + ".input_zero_point");
    const bool mlp = layer.find(".mlp.") != std::string::npos;
    EXPECT_EQ(z != x.rebuilt.end(), mlp) << layer;
    if (z != x.rebuilt.end()) {
      EXPECT_EQ(z->second.item<double>(), static_cast<double>(p.zero.item<float>()) - 128) << layer;
      ++asymmetric;
    }
  }
  EXPECT_EQ(asymmetric, 18);
  const json& groups = qconf(x).at("config_groups");
  ASSERT_EQ(groups.size(), 2u);
  for (const auto& [k, g] : groups.items()) {
    EXPECT_EQ(g.at("format"), "int-quantized") << k;
    EXPECT_FALSE(g.at("input_activations").at("dynamic").get<bool>()) << k;
    EXPECT_EQ(g.at("input_activations").at("strategy"), "tensor") << k;
    EXPECT_EQ(g.at("input_activations").at("observer"), "minmax") << k;
  }
}

// An FP8 KV cache (static per-tensor scales): kv_cache_scheme (float, 8 bits, tensor, static) and
// each attention module's k_scale / v_scale, F32 [1], equal to the calibrated scales; the reader
// requires both for every attention module. Alone (no weight groups) the format is "dense".
TEST(CompressedTensors, Fp8KvCacheSchemeAndScales) {
  for (const bool with_weights : {true, false}) {
    test::TempDir tmp;
    Exported x;
    json recipe = {{"kv_cache", {{"method", "fp8"}}}};
    if (with_weights) recipe["scheme"] = "W8A16";
    export_and_read(recipe, tmp, x);
    expect_exact(x);
    expect_import_exact(x, true);
    const json& kv = qconf(x).at("kv_cache_scheme");
    EXPECT_EQ(kv.at("type"), "float");
    EXPECT_EQ(kv.at("num_bits"), 8);
    EXPECT_EQ(kv.at("strategy"), "tensor");
    EXPECT_FALSE(kv.at("dynamic").get<bool>());
    EXPECT_EQ(qconf(x).at("format"), with_weights ? "pack-quantized" : "dense");
    ASSERT_EQ(x.kv_scales.size(), 6u);
    for (const auto& [module, s] : x.kv_scales) {
      EXPECT_EQ(x.rebuilt.at(module + ".k_scale").item<double>(), static_cast<double>(static_cast<float>(s.first))) << module;
      EXPECT_EQ(x.rebuilt.at(module + ".v_scale").item<double>(), static_cast<double>(static_cast<float>(s.second))) << module;
    }
  }
}

TEST(CompressedTensors, Magnitude24SparseBitmaskExact) {
  test::TempDir tmp;
  Exported x;
  export_and_read({{"default", {{"prune", {{"pattern", "2:4"}, {"method", "magnitude"}}}}}}, tmp, x);
  expect_exact(x);
  expect_import_exact(x);
  const json& s = qconf(x).at("sparsity_config");
  EXPECT_EQ(s.at("format"), "sparse-24-bitmask");
  EXPECT_EQ(s.at("sparsity_structure"), "2:4");
  EXPECT_FALSE(qconf(x).contains("config_groups"));
}

// MXFP4A16 and NVFP4A16 (llm-compressor's schemes) as mxfp4- / nvfp4-pack-quantized: the
// independent reader rebuilds every weight bit for bit (E2M1 · 2^(e−127), E2M1 · s / global_scale),
// Quench reopens the export with the compressed model's logits, and the config carries
// compressed-tensors' arguments. (down_proj's 688 inputs are not whole blocks of 32 or 64: it stays
// float, on the ignore list.)
TEST(CompressedTensors, Mxfp4AndNvfp4PackedExact) {
  for (const char* format : {"mxfp4", "nvfp4"}) {
    SCOPED_TRACE(format);
    const bool nv = std::string(format) == "nvfp4";
    test::TempDir tmp;
    Exported x;
    export_and_read({{"default", {{"weights", {{"format", format}}}}}}, tmp, x);
    expect_exact(x);
    expect_import_exact(x);
    const json& q = qconf(x);
    EXPECT_EQ(q.at("format"), nv ? "nvfp4-pack-quantized" : "mxfp4-pack-quantized");
    const json& wa = q.at("config_groups").at("group_0").at("weights");
    EXPECT_EQ(wa.at("type"), "float");
    EXPECT_EQ(wa.at("num_bits"), 4);
    EXPECT_EQ(wa.at("strategy"), nv ? "tensor_group" : "group");
    EXPECT_EQ(wa.at("group_size"), nv ? 16 : 32);
    EXPECT_NE(std::find(q.at("ignore").begin(), q.at("ignore").end(), "model.layers.0.mlp.down_proj"), q.at("ignore").end());
    const SafetensorsFile f(x.dir + "/model.safetensors");
    const std::string p = "model.layers.0.self_attn.q_proj";
    ASSERT_TRUE(f.contains(p + ".weight_packed") && f.contains(p + ".weight_scale"));
    EXPECT_EQ(f.find(p + ".weight_packed")->dtype, StDtype::U8);
    EXPECT_EQ(f.find(p + ".weight_packed")->shape, (std::vector<int64_t>{256, 128}));
    EXPECT_EQ(f.find(p + ".weight_scale")->dtype, nv ? StDtype::F8_E4M3 : StDtype::U8);
    EXPECT_EQ(f.find(p + ".weight_scale")->shape, (std::vector<int64_t>{256, 256 / (nv ? 16 : 32)}));
    EXPECT_EQ(f.contains(p + ".weight_global_scale"), nv);
    const SizeEstimate est = estimate_size(*x.model, x.plan);
    EXPECT_LT(std::abs(static_cast<double>(x.file_bytes - est.bytes) / static_cast<double>(est.bytes)), 0.02)
        << x.file_bytes << " vs " << est.bytes;
  }
}

// FP8 (llm-compressor's FP8_DYNAMIC and FP8) as float-quantized: the weight as F8_E4M3 bytes with
// F32 scales per channel or per tensor, rebuilt bit for bit by the independent reader and by
// Quench's importer; FP8 input activations are "type": "float", dynamic per token or static per
// tensor with the calibrated input_scale (absmax / 448).
TEST(CompressedTensors, Fp8FloatQuantizedExact) {
  for (const char* scheme : {"FP8_DYNAMIC", "FP8"}) {
    SCOPED_TRACE(scheme);
    const bool dyn = std::string(scheme) == "FP8_DYNAMIC";
    test::TempDir tmp;
    Exported x;
    export_and_read({{"default", {{"scheme", scheme}}}}, tmp, x);
    expect_exact(x);
    expect_import_exact(x, /*drop_activation_quant=*/true);
    const json& q = qconf(x);
    EXPECT_EQ(q.at("format"), "float-quantized");
    const json& g = q.at("config_groups").at("group_0");
    EXPECT_EQ(g.at("weights").at("type"), "float");
    EXPECT_EQ(g.at("weights").at("num_bits"), 8);
    EXPECT_EQ(g.at("weights").at("strategy"), dyn ? "channel" : "tensor");
    EXPECT_EQ(g.at("input_activations").at("type"), "float");
    EXPECT_EQ(g.at("input_activations").at("strategy"), dyn ? "token" : "tensor");
    EXPECT_EQ(g.at("input_activations").at("dynamic"), dyn);
    const SafetensorsFile f(x.dir + "/model.safetensors");
    const std::string p = "model.layers.0.mlp.down_proj";
    ASSERT_TRUE(f.contains(p + ".weight") && f.contains(p + ".weight_scale"));
    EXPECT_EQ(f.find(p + ".weight")->dtype, StDtype::F8_E4M3);
    EXPECT_EQ(f.find(p + ".weight")->shape, (std::vector<int64_t>{256, 688}));
    EXPECT_EQ(f.find(p + ".weight_scale")->shape, (dyn ? std::vector<int64_t>{256, 1} : std::vector<int64_t>{1}));
    EXPECT_EQ(f.contains(p + ".input_scale"), !dyn);
    if (!dyn) {
      // The static scale is the calibrated range over E4M3's largest value.
      const auto it = x.static_inputs.find(p);
      ASSERT_NE(it, x.static_inputs.end());
      EXPECT_GT(it->second.scale.item<float>(), 0.f);
    }
  }
}

TEST(CompressedTensors, RefusesWhatTheFormatCannotHold) {
  auto m = load_model(test::demo("sotu-llama"));
  auto why = [&](const json& r) { return ct_exportable(*m, resolve(Recipe::parse(r), *m)); };
  EXPECT_NE(why({{"default", {{"weights", {{"bits", 8}}}, {"output_activations", {{"bits", 8}, {"strategy", "tensor"}, {"dynamic", false}}}}}})
                .find("output activation"),
            std::string::npos);
  EXPECT_NE(why({{"kv_cache", {{"method", "kivi"}, {"bits", 2}, {"group_size", 32}, {"residual", 128}}}}).find("KIVI"), std::string::npos);
  // FP8 on some attention modules only: kv_cache_scheme is one setting for all of them.
  EXPECT_NE(why({{"overrides", {{{"match", "model.layers.0.self_attn"}, {"kv_cache", {{"method", "fp8"}}}}}}})
                .find("model.layers.1.self_attn: its KV cache is kept in float"),
            std::string::npos);
  EXPECT_NE(why({{"default", {{"lowrank", {{"rank", 8}}}}}}).find("low-rank"), std::string::npos);
  // (down_proj's 688 inputs have no Hadamard matrix: the rotation goes on the attention projections)
  EXPECT_NE(why({{"overrides", {{{"match", {"*.self_attn.*"}}, {"rotation", "hadamard"}}}}}).find("Hadamard"), std::string::npos);
  EXPECT_NE(why({{"default", {{"weights", {{"format", "q4_0"}}}}}}).find("gguf"), std::string::npos);
  EXPECT_NE(why({{"default", {{"weights", {{"format", "nvfp4"}}}, {"prune", {{"pattern", "2:4"}}}}}}).find("2:4 sparsity with FP4"),
            std::string::npos);
  // FP8 goes with FP8: integer activations on FP8 weights (and the reverse) have no scheme.
  EXPECT_NE(why({{"default", {{"weights", {{"type", "float"}}}, {"activations", {{"bits", 8}, {"strategy", "token"}}}}}}).find("FP8 goes with FP8"),
            std::string::npos);
}

TEST(CompressedTensors, NonEmptyTargetNeedsForce) {
  test::TempDir tmp;
  fs::create_directories(tmp.file("d"));
  { std::ofstream(tmp.file("d/x")) << "x"; }
  EXPECT_THROW(check_ct_target(tmp.file("d"), false), UsageError);
  EXPECT_NO_THROW(check_ct_target(tmp.file("d"), true));
}

}  // namespace
}  // namespace quench
