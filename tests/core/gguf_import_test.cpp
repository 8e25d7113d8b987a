// GGUF import: a compressed sotu-llama exported as GGUF and read back is the same model — every
// quantized weight equals the fake-quantized one bit for bit, float layers carry exactly their
// float type's rounding, the config and the tokenizer survive — and broken or foreign files
// fail with one message naming the file and the key or tensor.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/compress/compress.h"
#include "core/compress/recipe.h"
#include "core/export/export_check.h"
#include "core/export/gguf_export.h"
#include "core/export/gguf_import.h"
#include "core/export/gguf_names.h"
#include "core/io/gguf.h"
#include "core/models/registry.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Case {
  std::string scheme, float_type;
};

class GgufImport : public testing::TestWithParam<Case> {};

TEST_P(GgufImport, RoundTripIsExact) {
  const Case& c = GetParam();
  TempDir tmp;
  const std::string src = test::demo("sotu-llama");
  auto m = load_model(src);
  const ResolvedRecipe plan = resolve(*Recipe::from_name(c.scheme), *m);
  ASSERT_EQ(gguf_exportable(*m, plan), "");
  compress(*m, plan, CalibrationSet{}, {.measure_samples = 0});
  const std::string gguf = tmp.file("model.gguf");
  GgufExportOptions o;
  o.float_type = c.float_type;
  export_gguf(*m, gguf, o);
  const std::string dir = import_gguf(gguf, tmp.file("imported"));
  auto back = load_model(dir);

  // Weights: quantized layers bit-exact, float layers rounded to the file's float type.
  const at::ScalarType ft = c.float_type == "f16" ? at::kHalf : c.float_type == "f32" ? at::kFloat : at::kBFloat16;
  int quantized = 0;
  for (const auto& lp : m->layers()) {
    const Layer& l = *lp;
    const Layer& b = back->layer(l.name());
    at::Tensor want = l.weight().detach().cpu();
    if (l.encoding()) ++quantized;
    else want = want.to(ft).to(at::kFloat);
    EXPECT_TRUE(at::equal(b.weight(), want)) << l.name() << " max |diff| " << (b.weight() - want).abs().max().item<double>();
    if (l.bias().defined()) EXPECT_TRUE(at::equal(b.bias(), l.bias())) << l.name();
  }
  EXPECT_GT(quantized, 20);
  for (const auto& [name, t] : m->params()) EXPECT_TRUE(at::equal(back->param(name), t)) << name;

  // Config round trip.
  const auto& a = m->config().json();
  const auto& z = back->config().json();
  for (const char* k : {"model_type", "hidden_size", "num_hidden_layers", "intermediate_size", "num_attention_heads", "num_key_value_heads",
                        "head_dim", "vocab_size", "max_position_embeddings", "rms_norm_eps", "bos_token_id", "eos_token_id"})
    EXPECT_EQ(z.at(k), a.at(k)) << k;
  EXPECT_EQ(z.at("rope_theta").get<double>(), 10000.0);
  EXPECT_EQ(z.at("tie_word_embeddings").get<bool>(), !GgufFile(gguf).find("output.weight"));

  // The same text gives the same ids and decodes back.
  const Tokenizer t0 = Tokenizer::from_model_dir(src), t1 = Tokenizer::from_model_dir(dir);
  const std::string text = test::read_file(test::demo("sotu-2000-2023.txt")).substr(100000, 20000) + " <|endoftext|> ünïcödé 😀\n\n  x";
  const auto ids = t0.encode(text);
  EXPECT_EQ(t1.encode(text), ids);
  EXPECT_EQ(t1.decode(ids), t0.decode(ids));
  EXPECT_EQ(t1.vocab_size(), t0.vocab_size());
  EXPECT_TRUE(t1.is_special(0));

  // Both compute the same logits.
  at::NoGradGuard ng;
  const at::Tensor x = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + 64), at::kLong).unsqueeze(0);
  EXPECT_LT(test::rel_error(back->forward({x}).logits, m->forward({x}).logits), 1e-5);

  // The export check of large GGUFs (tensor by tensor, no second model) finds every tensor equal.
  const WeightCheck wc = check_export_weights(*m, gguf);
  EXPECT_EQ(wc.tensors, static_cast<int64_t>(GgufFile(gguf).tensors().size()));
  EXPECT_EQ(wc.inexact, 0) << wc.worst << " " << wc.max_abs_error;
  EXPECT_EQ(wc.max_abs_error, 0.0);
}

// ... and against a model the file does not hold (compressed on another grid), it names the
// tensors that differ; against a model of another shape, it says which tensor does not fit.
TEST(GgufExportWeightCheck, FindsWhatTheFileDoesNotHold) {
  TempDir tmp;
  auto m = load_model(test::demo("sotu-llama"));
  compress(*m, resolve(*Recipe::from_name("Q4_0"), *m), CalibrationSet{}, {.measure_samples = 0});
  const std::string gguf = tmp.file("q4_0.gguf");
  export_gguf(*m, gguf);
  auto other = load_model(test::demo("sotu-llama"));
  compress(*other, resolve(*Recipe::from_name("Q8_0"), *other), CalibrationSet{}, {.measure_samples = 0});
  const WeightCheck wc = check_export_weights(*other, gguf);
  EXPECT_EQ(wc.inexact, 36);  // 6 blocks × 6 projections on a Q4_0 grid; down_proj (688 inputs) and the rest stay float
  EXPECT_GT(wc.max_abs_error, 0.0);
  EXPECT_NE(wc.worst.find("model.layers."), std::string::npos) << wc.worst;
  auto mamba = load_model(test::demo("sotu-mamba2"));
  EXPECT_TRUE(has(error_of([&] { check_export_weights(*mamba, gguf); }), "which the compressed model does not have"));
}

// The other families' layouts: GPT-2's Conv1D weights (transposed in transformers, not in Quench's
// layers) and Mamba-2's A, D, conv and norm tensors compare as the model holds them.
TEST(GgufExportWeightCheck, Gpt2AndMamba2LayoutsCompareExactly) {
  for (const std::string& dir : {test::fixture("hf-tiny/gpt2-tiny"), test::demo("sotu-mamba2")}) {
    TempDir tmp;
    auto m = load_model(dir);
    const ResolvedRecipe plan = resolve(*Recipe::from_name("Q8_0"), *m);
    ASSERT_EQ(gguf_exportable(*m, plan), "") << dir;
    compress(*m, plan, CalibrationSet{}, {.measure_samples = 0});
    const std::string gguf = tmp.file("m.gguf");
    GgufExportOptions o;
    o.float_type = "f32";
    export_gguf(*m, gguf, o);
    const WeightCheck wc = check_export_weights(*m, gguf);
    EXPECT_GT(wc.tensors, 10) << dir;
    EXPECT_EQ(wc.inexact, 0) << dir << ": " << wc.worst << " off by " << wc.max_abs_error;
  }
}

INSTANTIATE_TEST_SUITE_P(Llama, GgufImport, testing::Values(Case{"Q4_0", ""}, Case{"Q4_K", "f16"}),
                         [](const testing::TestParamInfo<Case>& i) { return i.param.scheme + (i.param.float_type.empty() ? "" : "_" + i.param.float_type); });

TEST(GgufImportErrors, TruncatedFileNamesTheTensor) {
  TempDir tmp;
  auto m = load_model(test::demo("sotu-llama"));
  const std::string gguf = tmp.file("model.gguf");
  export_gguf(*m, gguf);
  fs::resize_file(gguf, fs::file_size(gguf) - 1000);  // cuts into the last tensor's data
  const std::string e = error_of([&] { import_gguf(gguf, tmp.file("out")); });
  EXPECT_TRUE(has(e, gguf) && has(e, ": tensor ") && has(e, "runs past the end of the file")) << e;
  EXPECT_FALSE(fs::exists(tmp.file("out")));
}

// Found by fuzz_gguf_import (fuzz/corpus/gguf_import/GgufImportErrors.TokenThatIsNotUtf8IsNamed.gguf): a
// token that is not UTF-8 escaped as nlohmann's type_error when tokenizer.json was written.
TEST(GgufImportErrors, TokenThatIsNotUtf8IsNamed) {
  TempDir tmp;
  auto m = load_model(test::demo("sotu-llama"));
  const std::string gguf = tmp.file("model.gguf");
  export_gguf(*m, gguf);
  std::string bytes = test::read_file(gguf);
  // The key, then its value: type ARRAY (u32), element type STRING (u32), count (u64), and the
  // first string's length (u64) and bytes.
  const std::string key = "tokenizer.ggml.tokens";
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  bytes[at + key.size() + 4 + 4 + 8 + 8] = '\x99';
  std::ofstream(gguf, std::ios::binary | std::ios::trunc) << bytes;
  const std::string e = error_of([&] { import_gguf(gguf, tmp.file("out")); });
  EXPECT_TRUE(has(e, gguf + ": tokenizer.ggml.tokens[0]: not valid UTF-8 at byte 0")) << e;
  EXPECT_FALSE(fs::exists(tmp.file("out")));
}

TEST(GgufImportErrors, ForeignArchitectureMissingKeyUnknownTensor) {
  TempDir tmp;
  auto write = [&](const std::string& name, const std::string& arch, bool keys, const std::string& tensor) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str(arch));
    if (keys)
      for (const char* k : {"embedding_length", "block_count", "feed_forward_length", "attention.head_count"}) w.set(arch + "." + k, GgufValue::u32(4));
    if (keys) w.set(arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
    const std::vector<float> z(32, 0.f);
    for (const std::string& t : {std::string("token_embd.weight"), tensor})
      w.add_tensor(t, {4, 8}, GgmlType::F32, [z] { return ggml_encode_float(GgmlType::F32, z.data(), 32); });
    w.write(tmp.file(name));
    return tmp.file(name);
  };
  const std::string bert = write("bert.gguf", "bert", true, "output.weight");
  EXPECT_TRUE(has(error_of([&] { import_gguf(bert, tmp.file("a")); }), "architecture \"bert\" is not supported"));
  const std::string nokey = write("nokey.gguf", "llama", false, "output.weight");
  const std::string e1 = error_of([&] { import_gguf(nokey, tmp.file("b")); });
  EXPECT_TRUE(has(e1, nokey) && has(e1, "missing key llama.embedding_length")) << e1;
  const std::string odd = write("odd.gguf", "llama", true, "blk.0.attn_q_norm.weight");
  const std::string e2 = error_of([&] { import_gguf(odd, tmp.file("c")); });
  EXPECT_TRUE(has(e2, odd) && has(e2, "tensor blk.0.attn_q_norm.weight has no Hugging Face name")) << e2;
}

// Found by fuzz_gguf_import on the GPU machine (2026-12-03): with no key_length or
// rope.dimension_count, head_dim fell back to embedding_length / head_count before head_count was
// checked, a division by zero.
TEST(GgufImportErrors, ZeroHeadsIsNamedNotDividedBy) {
  TempDir tmp;
  GgufWriter w;
  w.set("general.architecture", GgufValue::str("llama"));
  for (const char* k : {"embedding_length", "block_count", "feed_forward_length"}) w.set(std::string("llama.") + k, GgufValue::u32(4));
  w.set("llama.attention.head_count", GgufValue::u32(0));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
  const std::vector<float> z(32, 0.f);
  w.add_tensor("token_embd.weight", {4, 8}, GgmlType::F32, [z] { return ggml_encode_float(GgmlType::F32, z.data(), 32); });
  const std::string path = tmp.file("zero-heads.gguf");
  w.write(path);
  const std::string e = error_of([&] { import_gguf(path, tmp.file("out")); });
  EXPECT_TRUE(has(e, path + ": llama.attention.head_count: 0 heads; it must be positive")) << e;
  EXPECT_FALSE(fs::exists(tmp.file("out")));
}

// A tensor scale ("<name>.scale", NVFP4's per-tensor factor) is folded into its weight; one that
// cannot be is an error naming it.
TEST(GgufImportErrors, BadTensorScalesAreNamed) {
  TempDir tmp;
  auto file = [&](const std::string& name, std::vector<float> scale, bool with_bias) {
    GgufWriter w;
    w.set("general.architecture", GgufValue::str("llama"));
    for (const char* k : {"embedding_length", "feed_forward_length"}) w.set(std::string("llama.") + k, GgufValue::u32(4));
    w.set("llama.block_count", GgufValue::u32(1));
    w.set("llama.attention.head_count", GgufValue::u32(2));
    w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f));
    const std::vector<float> z(32, 0.f), q(16, 0.5f), b(4, 0.f);
    w.add_tensor("token_embd.weight", {4, 8}, GgmlType::F32, [z] { return ggml_encode_float(GgmlType::F32, z.data(), 32); });
    w.add_tensor("blk.0.attn_q.weight", {4, 4}, GgmlType::F32, [q] { return ggml_encode_float(GgmlType::F32, q.data(), 16); });
    if (with_bias) w.add_tensor("blk.0.attn_q.bias", {4}, GgmlType::F32, [b] { return ggml_encode_float(GgmlType::F32, b.data(), 4); });
    w.add_tensor(name, {static_cast<int64_t>(scale.size())}, GgmlType::F32,
                 [scale] { return ggml_encode_float(GgmlType::F32, scale.data(), static_cast<int64_t>(scale.size())); });
    const std::string path = tmp.file("scale.gguf");
    w.write(path);
    return path;
  };
  auto import_error = [&](const std::string& path) { return error_of([&] { import_gguf(path, tmp.file("out")); }); };
  std::string path = file("blk.0.attn_q.scale", {0.5f, 0.5f}, false);
  EXPECT_TRUE(has(import_error(path), path + ": tensor blk.0.attn_q.scale has 2 values; a tensor scale has 1"));
  path = file("blk.0.attn_k.scale", {0.5f}, false);
  EXPECT_TRUE(has(import_error(path), path + ": tensor blk.0.attn_k.scale scales blk.0.attn_k.weight, which the file does not have"));
  path = file("blk.0.attn_q.scale", {std::nanf("")}, false);
  EXPECT_TRUE(has(import_error(path), path + ": tensor blk.0.attn_q.scale is nan; a tensor scale must be finite"));
  path = file("blk.0.attn_q.scale", {0.5f}, true);
  EXPECT_TRUE(has(import_error(path), path + ": tensor blk.0.attn_q.scale together with a bias"));
  EXPECT_FALSE(fs::exists(tmp.file("out")));
}

TEST(GgufImportNames, TablesInvert) {
  for (const char* arch : {"llama", "gpt2", "mamba", "mamba2"})
    for (const std::string hf : {"lm_head.weight", "model.layers.3.self_attn.k_proj.bias", "transformer.h.11.attn.c_attn.weight",
                                 "backbone.layers.2.mixer.A_log", "backbone.layers.0.mixer.dt_bias", "backbone.layers.0.mixer.dt_proj.bias"}) {
      const std::string g = gguf_tensor_name(arch, hf);
      if (!g.empty()) EXPECT_EQ(hf_tensor_name(arch, g), hf) << arch << " " << hf;
    }
  EXPECT_EQ(gguf_tensor_name("gpt2", "h.0.ln_1.bias"), "blk.0.attn_norm.bias");
  EXPECT_EQ(hf_tensor_name("mamba2", "blk.1.ssm_dt.bias"), "backbone.layers.1.mixer.dt_bias");
  EXPECT_EQ(hf_tensor_name("mamba", "blk.1.ssm_dt.bias"), "backbone.layers.1.mixer.dt_proj.bias");
}

// A .gguf path opens through the cache: converted once, then reused.
TEST(GgufImportCache, ConvertsOnceAndReuses) {
  TempDir tmp;
  auto m = load_model(test::demo("sotu-llama"));
  const std::string gguf = tmp.file("sotu.gguf");
  export_gguf(*m, gguf);
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  setenv("XDG_CACHE_HOME", tmp.file("cache").c_str(), 1);
  const std::string dir = resolve_model_path(gguf);
  EXPECT_EQ(dir.rfind(tmp.file("cache/quench/gguf/sotu-"), 0), 0u) << dir;
  const auto stamp = fs::last_write_time(fs::path(dir) / "model.safetensors");
  EXPECT_EQ(resolve_model_path(gguf), dir);
  EXPECT_EQ(fs::last_write_time(fs::path(dir) / "model.safetensors"), stamp);
  EXPECT_EQ(load_model(gguf)->layers().size(), m->layers().size());
  if (old) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(resolve_model_path(test::demo("sotu-llama")), test::demo("sotu-llama"));
}

}  // namespace
}  // namespace quench
