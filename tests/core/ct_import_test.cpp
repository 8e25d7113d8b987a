// compressed-tensors import (core/io/ct_decode.h) against malformed checkpoints: sotu-llama is
// exported once per scheme, then one part of the export is broken per case. Each must fail when
// the model is opened (or when the broken weight is decoded) with one error naming the file or
// module and the tensor or key, never a crash or a silently wrong weight.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/compress/compress.h"
#include "core/export/compressed_tensors.h"
#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kQ = "model.layers.0.self_attn.q_proj";

// sotu-llama compressed with `recipe` and exported into dir.
void export_demo(const json& recipe, const std::string& dir) {
  auto model = load_model(test::demo("sotu-llama"));
  const auto plan = resolve(Recipe::parse(recipe), *model);
  at::manual_seed(3);
  compress(*model, plan, CalibrationSet::from_token_windows(at::randint(0, model->config().get_int("vocab_size"), {8, 32}, at::kLong), 4));
  export_compressed_tensors(*model, plan, dir);
}

class CtImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new test::TempDir;
    const json g128 = {{"default", {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 128}, {"symmetric", false},
                                                 {"method", "gptq"}, {"act_order", true}}}}},
                       {"overrides", json::array({{{"match", "*.mlp.down_proj"}, {"weights", {{"group_size", 172}}}}})}};
    export_demo(g128, tmp_->file("w4"));
    export_demo({{"default", {{"prune", {{"pattern", "2:4"}, {"method", "magnitude"}}}}}}, tmp_->file("sparse"));
  }
  static void TearDownTestSuite() { delete tmp_; }

  // A copy of an export to break.
  std::string copy(const std::string& which) {
    const std::string dst = local_.file(which);
    fs::copy(tmp_->file(which), dst, fs::copy_options::recursive);
    return dst;
  }
  static void edit_config(const std::string& dir, const std::function<void(json&)>& f) {
    json j = json::parse(test::read_file(dir + "/config.json"));
    f(j);
    std::ofstream(dir + "/config.json") << j.dump(1);
  }
  static void edit_tensors(const std::string& dir, const std::function<void(std::map<std::string, at::Tensor>&)>& f) {
    auto all = load_all_safetensors(dir + "/model.safetensors");
    f(all);
    std::vector<std::pair<std::string, at::Tensor>> out(all.begin(), all.end());
    save_safetensors(dir + "/model.safetensors", out);
  }
  // Opening the model and decoding every weight fails with a message holding each of `parts`.
  static void expect_error(const std::string& dir, const std::vector<std::string>& parts) {
    try {
      auto m = load_model(dir);
      for (const auto& n : m->checkpoint().names()) m->checkpoint().load(n);
      ADD_FAILURE() << dir << ": opened without an error";
    } catch (const Error& e) {
      for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
    }
  }

  static test::TempDir* tmp_;
  test::TempDir local_;
};
test::TempDir* CtImport::tmp_ = nullptr;

TEST_F(CtImport, IntactExportsOpenAndShowHuggingFaceNames) {
  for (const char* which : {"w4", "sparse"}) {
    auto m = load_model(tmp_->file(which));
    const auto& ck = m->checkpoint();
    EXPECT_TRUE(ck.has(kQ + ".weight")) << which;
    EXPECT_EQ(ck.info(kQ + ".weight").dtype_name, "F32");
    for (const auto& n : ck.names()) {
      EXPECT_EQ(n.find("weight_packed"), std::string::npos) << n;
      EXPECT_EQ(n.find("bitmask"), std::string::npos) << n;
    }
  }
  EXPECT_EQ(load_model(tmp_->file("w4"))->checkpoint().compressed_tensors_format(), "pack-quantized");
}

TEST_F(CtImport, MissingScaleNamesTheTensor) {
  const auto d = copy("w4");
  edit_tensors(d, [](auto& t) { t.erase(kQ + ".weight_scale"); });
  expect_error(d, {kQ, kQ + ".weight_scale"});
}

TEST_F(CtImport, MissingZeroPointOfAsymmetricWeights) {
  const auto d = copy("w4");
  edit_tensors(d, [](auto& t) { t.erase(kQ + ".weight_zero_point"); });
  expect_error(d, {kQ, "asymmetric", "weight_zero_point"});
}

TEST_F(CtImport, WrongPackedDtypeAndShape) {
  auto d = copy("w4");
  edit_tensors(d, [](auto& t) { t[kQ + ".weight_packed"] = t[kQ + ".weight_packed"].to(at::kLong); });
  expect_error(d, {kQ + ".weight_packed", "I64", "expected I32"});
  d = local_.file("w4-shape");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_tensors(d, [](auto& t) { t[kQ + ".weight_shape"] = at::tensor({int64_t{128}, int64_t{4096}}); });
  expect_error(d, {kQ + ".weight_packed", "expected I32[128, 512]"});
}

TEST_F(CtImport, ScalesOfTheWrongShape) {
  const auto d = copy("w4");
  edit_tensors(d, [](auto& t) { t[kQ + ".weight_scale"] = t[kQ + ".weight_scale"].narrow(1, 0, 1).contiguous(); });
  expect_error(d, {kQ + ".weight_scale", "group scales"});
}

TEST_F(CtImport, GIdxOutOfRangeAndUnbalanced) {
  auto d = copy("w4");
  edit_tensors(d, [](auto& t) { t[kQ + ".weight_g_idx"] = t[kQ + ".weight_g_idx"].clone().fill_(7); });
  expect_error(d, {kQ, "weight_g_idx", "groups outside"});
  d = local_.file("w4-unbalanced");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_tensors(d, [](auto& t) { t[kQ + ".weight_g_idx"] = t[kQ + ".weight_g_idx"].clone().fill_(0); });
  expect_error(d, {kQ, "weight_g_idx", "columns in each group"});
}

TEST_F(CtImport, NonFiniteScale) {
  const auto d = copy("w4");
  edit_tensors(d, [](auto& t) {
    auto s = t[kQ + ".weight_scale"].clone();
    s.view(-1)[3] = std::numeric_limits<float>::infinity();
    t[kQ + ".weight_scale"] = s;
  });
  expect_error(d, {kQ, "weight_scale", "non-finite"});
}

TEST_F(CtImport, NoGroupTargetsTheModuleOrItIsIgnored) {
  auto d = copy("w4");
  edit_config(d, [](json& j) {
    for (auto& [k, g] : j["quantization_config"]["config_groups"].items()) g["targets"] = json::array({"re:nothing\\..*"});
  });
  expect_error(d, {"no config group", "targets it", "config.json"});
  d = local_.file("w4-ignored");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_config(d, [](json& j) { j["quantization_config"]["ignore"].push_back(kQ); });
  expect_error(d, {kQ, "ignore"});
  // A class name of another module type on the ignore list leaves the Linear layers alone.
  d = local_.file("w4-ignored-class");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_config(d, [](json& j) { j["quantization_config"]["ignore"].push_back("Embedding"); });
  EXPECT_NO_THROW(load_model(d));
}

TEST_F(CtImport, FormatsAndMethodsQuenchDoesNotRead) {
  auto d = copy("w4");
  edit_config(d, [](json& j) {
    j["quantization_config"]["format"] = "nvfp4-pack-quantized";
    for (auto& [k, g] : j["quantization_config"]["config_groups"].items()) g.erase("format");
  });
  expect_error(d, {"config.json", "nvfp4-pack-quantized", "not a format Quench reads"});
  d = local_.file("w4-gptq");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_config(d, [](json& j) { j["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}}; });
  expect_error(d, {"config.json", "quant_method", "gptq", "compressed-tensors"});
  d = local_.file("w4-bits");
  fs::copy(tmp_->file("w4"), d, fs::copy_options::recursive);
  edit_config(d, [](json& j) {
    for (auto& [k, g] : j["quantization_config"]["config_groups"].items()) g["weights"]["num_bits"] = 0;
  });
  expect_error(d, {"config.json", "num_bits", "1 to 8"});
}

TEST_F(CtImport, BitmaskThatIsNotTwoOfFour) {
  auto d = copy("sparse");
  edit_tensors(d, [](auto& t) {
    auto b = t[kQ + ".bitmask"].clone();
    b.view(-1)[0] = 0x07;  // three of the first four
    t[kQ + ".bitmask"] = b;
  });
  expect_error(d, {kQ + ".bitmask", "two of every four"});
  d = local_.file("sparse-nocfg");
  fs::copy(tmp_->file("sparse"), d, fs::copy_options::recursive);
  edit_config(d, [](json& j) { j["quantization_config"].erase("sparsity_config"); });
  expect_error(d, {".bitmask' is sparse-compressed", "sparse-24-bitmask"});
}

TEST_F(CtImport, TruncatedShard) {
  const auto d = copy("w4");
  const auto f = d + "/model.safetensors";
  fs::resize_file(f, fs::file_size(f) - 1000);
  expect_error(d, {"model.safetensors"});
}

}  // namespace
}  // namespace quench
