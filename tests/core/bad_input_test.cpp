// Broken inputs (tests/fixtures/bad, made by make_bad.py) give a clear quench::Error that names
// the file or tensor — never a crash, never a silent load.
#include <gtest/gtest.h>

#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

struct BadFile {
  const char* file;
  const char* expect;  // a phrase the message must contain
};

class BadSafetensors : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadSafetensors, RefusedWithTheFileNamed) {
  const std::string path = test::fixture(std::string("bad/safetensors/") + GetParam().file);
  const std::string msg = error_of([&] {
    SafetensorsFile f(path);
    for (const auto& t : f.tensors()) f.load(t.name);
  });
  ASSERT_FALSE(msg.empty()) << GetParam().file << " was accepted";
  EXPECT_NE(msg.find(GetParam().file), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expect), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, BadSafetensors,
    ::testing::Values(BadFile{"truncated.safetensors", "truncated"}, BadFile{"empty.safetensors", "shorter than the 8-byte"},
                      BadFile{"short.safetensors", "shorter than the 8-byte"},
                      BadFile{"huge-header.safetensors", "100,000,000"},
                      BadFile{"header-past-end.safetensors", "past the end"},
                      BadFile{"non-json-header.safetensors", "not valid JSON"},
                      BadFile{"header-not-object.safetensors", "not a JSON object"},
                      BadFile{"offsets-out-of-range.safetensors", "run past the data buffer"},
                      BadFile{"overlapping.safetensors", "overlaps"},
                      BadFile{"dtype-length-mismatch.safetensors", "needs 32 bytes but data_offsets span 24"},
                      BadFile{"unknown-dtype.safetensors", "unknown dtype 'Q4_K'"},
                      BadFile{"float8.safetensors", "F8_E4M3"},
                      BadFile{"negative-shape.safetensors", "non-negative"},
                      BadFile{"duplicate-name.safetensors", "appears twice"}),
    [](const auto& info) {
      std::string s = info.param.file;
      s = s.substr(0, s.find('.'));
      for (auto& c : s)
        if (c == '-') c = '_';
      return s;
    });

class BadModel : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadModel, RefusedWithContext) {
  const std::string dir = test::fixture(std::string("bad/models/") + GetParam().file);
  const std::string msg = error_of([&] { load_model(dir); });
  ASSERT_FALSE(msg.empty()) << GetParam().file << " was accepted";
  EXPECT_NE(msg.find(GetParam().file), std::string::npos) << msg;
  EXPECT_NE(msg.find(GetParam().expect), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, BadModel,
    ::testing::Values(BadFile{"unknown-architecture", "'FooForCausalLM' is not supported; supported: LlamaForCausalLM"},
                      BadFile{"missing-config-key", "missing key 'hidden_size'"},
                      BadFile{"config-not-json", "config.json: not valid JSON"},
                      BadFile{"config-wrong-type", "'num_hidden_layers' must be an integer"},
                      BadFile{"no-config", "config.json: missing"},
                      BadFile{"no-weights", "no model.safetensors"},
                      BadFile{"missing-tensor", "no tensor 'model.layers.0.mlp.up_proj.weight'"},
                      BadFile{"wrong-shape", "'model.layers.0.self_attn.q_proj.weight' has shape [6, 8]"},
                      BadFile{"extra-layer-tensor", "'model.layers.1.mlp.up_proj.weight' is not used"},
                      BadFile{"missing-shard", "model-00002-of-00002.safetensors: shard listed"},
                      BadFile{"pickle", "pytorch_model.bin: PyTorch pickle checkpoints are not loaded"},
                      BadFile{"model.pt", "model.pt: PyTorch pickle checkpoints are not loaded"}),
    [](const auto& info) {
      std::string s = info.param.file;
      for (auto& c : s)
        if (c == '-' || c == '.') c = '_';
      return s;
    });

TEST(GoodControls, SingleAndShardedLoadAndAgree) {
  auto a = load_model(test::fixture("bad/models/llama-ok"));
  auto b = load_model(test::fixture("bad/models/llama-sharded-ok"));
  ModelInputs in;
  in.input_ids = at::arange(6, at::kLong).view({1, 6});
  at::NoGradGuard ng;
  EXPECT_TRUE(at::allclose(a->forward(in).logits, b->forward(in).logits));
  EXPECT_EQ(a->parameter_count(), b->parameter_count());
}

TEST(Safetensors, RoundTripAllDtypesAndAtomicity) {
  test::TempDir dir;
  std::vector<std::pair<std::string, at::Tensor>> ts = {
      {"f32", at::randn({3, 5})},
      {"f16", at::randn({4}).to(at::kHalf)},
      {"bf16", at::randn({2, 2}).to(at::kBFloat16)},
      {"f64", at::randn({3}, at::kDouble)},
      {"i64", at::arange(7, at::kLong)},
      {"i32", at::arange(5, at::kInt)},
      {"i16", at::arange(3, at::kShort)},
      {"i8", at::arange(-3, 3, at::kChar)},
      {"u8", at::arange(9, at::kByte)},
      {"bool", at::arange(3) % 2 == 0},
      {"empty", at::empty({0, 4})},
      {"scalar", at::scalar_tensor(3.5)},
      {"strided", at::randn({4, 6}).t()},
  };
  const std::string path = dir.file("x.safetensors");
  save_safetensors(path, ts, {{"format", "pt"}});
  SafetensorsFile f(path);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  for (const auto& [name, t] : ts) {
    auto back = f.load(name);
    EXPECT_EQ(back.scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(back, t.contiguous())) << name;
  }
  // A failed write leaves the previous file untouched: an undefined tensor fails after the start.
  const auto before = load_all_safetensors(path).size();
  EXPECT_THROW(save_safetensors(path, {{"ok", at::ones({2})}, {"bad", at::Tensor()}}), Error);
  EXPECT_EQ(load_all_safetensors(path).size(), before);
}

TEST(Checkpoint, InspectReadsHeadersOnly) {
  // materialize=false keeps every tensor a view of the mapped file in its stored dtype (bf16 here).
  LoadOptions o;
  o.materialize = false;
  auto m = load_model(test::demo("sotu-llama"), o);
  EXPECT_EQ(m->layers().front()->weight().scalar_type(), at::kBFloat16);
  EXPECT_EQ(m->parameter_count(), 5401856);  // CARD.json
}

}  // namespace
}  // namespace quench
