// compressed-tensors import (core/io/ct_decode.h) against malformed checkpoints: sotu-llama is
// exported once per scheme, then one part of the export is broken per case. Each must fail when
// the model is opened (or when the broken weight is decoded) with one error naming the file or
// module and the tensor or key, never a crash or a silently wrong weight.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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
    j["quantization_config"]["format"] = "marlin-24";
    for (auto& [k, g] : j["quantization_config"]["config_groups"].items()) g.erase("format");
  });
  expect_error(d, {"config.json", "marlin-24", "not a format Quench reads"});
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

// ---- 4-bit floats: NVFP4 and MXFP4, written here byte by byte from the format's description ----

struct RawTensor {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

void write_raw_safetensors(const std::string& path, const std::vector<RawTensor>& ts) {
  json h = json::object();
  uint64_t off = 0;
  for (const auto& t : ts) {
    h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string head = h.dump();
  head.resize((head.size() + 7) / 8 * 8, ' ');
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = head.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << head;
  for (const auto& t : ts) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
}

// The OCP formats as plain arithmetic, independent of core/io/ct_decode.cpp.
float e4m3(uint8_t b) {
  const int e = (b >> 3) & 15, m = b & 7;
  const float v = e == 0 ? std::ldexp(m / 8.f, -6) : std::ldexp(1 + m / 8.f, e - 7);
  return b & 0x80 ? -v : v;
}
float e2m1(int c) {
  const float mag[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  return c & 8 ? -mag[c & 7] : mag[c & 7];
}

// sotu-llama with q_proj of layer 0 replaced by random 4-bit codes and scales: NVFP4 (E4M3 scales per
// 16 columns under a global scale) or MXFP4 (E8M0 exponents per 32). Returns the expected weight.
at::Tensor write_fp4_model(const std::string& dir, bool nv, const std::function<void(std::vector<RawTensor>&, json&)>& edit = {}) {
  fs::create_directories(dir);
  const std::string src = test::demo("sotu-llama");
  for (const char* f : {"tokenizer.json", "config.json"}) fs::copy_file(src + "/" + f, dir + "/" + f);
  std::vector<RawTensor> ts;
  for (const auto& [name, t] : load_all_safetensors(src + "/model.safetensors")) {
    if (name == kQ + ".weight") continue;
    const at::Tensor c = t.to(at::kFloat).contiguous();
    RawTensor r{name, "F32", c.sizes().vec(), std::vector<uint8_t>(static_cast<size_t>(c.numel() * 4))};
    std::memcpy(r.bytes.data(), c.data_ptr<float>(), r.bytes.size());
    ts.push_back(std::move(r));
  }
  const int64_t R = 256, C = 256, G = nv ? 16 : 32;
  at::manual_seed(11);
  const at::Tensor codes = at::randint(0, 256, {R, C / 2}, at::kLong);
  std::vector<uint8_t> packed(static_cast<size_t>(R * C / 2)), scales(static_cast<size_t>(R * C / G));
  for (size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<uint8_t>(codes.view(-1)[static_cast<int64_t>(i)].item<int64_t>());
  // NVFP4: positive E4M3 scales from 2^-6 to 448 (0x7F would be NaN); MXFP4: exponents 2^-10 … 2^1.
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = static_cast<uint8_t>(nv ? 8 + (i * 37) % 118 : 117 + (i * 7) % 12);
  const float global = 2.5f;
  at::Tensor want = at::empty({R, C}, at::kFloat);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const uint8_t b = packed[static_cast<size_t>(r * C / 2 + c / 2)];
      const int code = c % 2 == 0 ? b & 15 : b >> 4;
      const uint8_t s = scales[static_cast<size_t>(r * C / G + c / G)];
      want[r][c] = e2m1(code) * (nv ? e4m3(s) / global : std::ldexp(1.f, s - 127));
    }
  ts.push_back({kQ + ".weight_packed", "U8", {R, C / 2}, packed});
  ts.push_back({kQ + ".weight_scale", nv ? "F8_E4M3" : "U8", {R, C / G}, scales});
  if (nv) {
    std::vector<uint8_t> g(4);
    std::memcpy(g.data(), &global, 4);
    ts.push_back({kQ + ".weight_global_scale", "F32", {1}, g});
  }
  json cfg = json::parse(test::read_file(dir + "/config.json"));
  const json weights = nv ? json{{"num_bits", 4}, {"type", "float"}, {"strategy", "tensor_group"}, {"group_size", 16}, {"symmetric", true}}
                          : json{{"num_bits", 4}, {"type", "float"}, {"strategy", "group"}, {"group_size", 32}, {"symmetric", true}};
  cfg["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                {"format", nv ? "nvfp4-pack-quantized" : "mxfp4-pack-quantized"},
                                {"quantization_status", "compressed"},
                                {"config_groups", {{"group_0", {{"targets", {"re:.*q_proj$"}}, {"weights", weights}}}}},
                                {"ignore", {"lm_head"}}};
  if (edit) edit(ts, cfg);
  std::ofstream(dir + "/config.json") << cfg.dump(1);
  write_raw_safetensors(dir + "/model.safetensors", ts);
  return want;
}

TEST_F(CtImport, Nvfp4AndMxfp4DecodeAsTheFormatSays) {
  for (bool nv : {true, false}) {
    const std::string dir = local_.file(nv ? "nvfp4" : "mxfp4");
    const at::Tensor want = write_fp4_model(dir, nv);
    auto m = load_model(dir);
    const at::Tensor got = m->checkpoint().load(kQ + ".weight");
    EXPECT_TRUE(at::equal(got, want)) << (nv ? "NVFP4" : "MXFP4") << ": max |Δ| " << (got - want).abs().max().item<float>();
    EXPECT_EQ(m->checkpoint().compressed_tensors_format(), nv ? "nvfp4-pack-quantized" : "mxfp4-pack-quantized");
    for (const auto& n : m->checkpoint().names()) EXPECT_EQ(n.find("weight_global_scale"), std::string::npos) << n;
    // The model runs on the decoded weight.
    const auto out = m->forward({at::arange(8, at::kLong).unsqueeze(0)});
    EXPECT_TRUE(at::isfinite(out.logits).all().item<bool>());
  }
}

TEST_F(CtImport, Nvfp4WithoutGlobalScaleOrWithBadScales) {
  const auto drop_global = [](std::vector<RawTensor>& ts, json&) {
    ts.erase(std::remove_if(ts.begin(), ts.end(), [](const RawTensor& t) { return t.name == kQ + ".weight_global_scale"; }), ts.end());
  };
  std::string d = local_.file("nv-noglobal");
  write_fp4_model(d, true, drop_global);
  expect_error(d, {kQ, kQ + ".weight_global_scale"});
  d = local_.file("nv-nan");
  write_fp4_model(d, true, [](std::vector<RawTensor>& ts, json&) {
    for (auto& t : ts)
      if (t.name == kQ + ".weight_scale") t.bytes[5] = 0x7F;  // E4M3's NaN
  });
  expect_error(d, {kQ + ".weight_scale", "non-finite"});
  d = local_.file("nv-u8scale");
  write_fp4_model(d, true, [](std::vector<RawTensor>& ts, json&) {
    for (auto& t : ts)
      if (t.name == kQ + ".weight_scale") t.dtype = "U8";
  });
  expect_error(d, {kQ + ".weight_scale", "F8_E4M3"});
  d = local_.file("nv-int");
  write_fp4_model(d, true, [](std::vector<RawTensor>&, json& c) {
    c["quantization_config"]["config_groups"]["group_0"]["weights"]["type"] = "int";
  });
  expect_error(d, {"config.json", "tensor_group"});
  d = local_.file("mx-nan");
  write_fp4_model(d, false, [](std::vector<RawTensor>& ts, json&) {
    for (auto& t : ts)
      if (t.name == kQ + ".weight_scale") t.bytes[0] = 0xFF;  // E8M0's NaN
  });
  expect_error(d, {kQ + ".weight_scale", "non-finite"});
}

TEST_F(CtImport, TruncatedShard) {
  const auto d = copy("w4");
  const auto f = d + "/model.safetensors";
  fs::resize_file(f, fs::file_size(f) - 1000);
  expect_error(d, {"model.safetensors"});
}

}  // namespace
}  // namespace quench
