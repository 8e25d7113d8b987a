// End-to-end: quench-cli inspect and forward as a user runs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "core/io/safetensors.h"

namespace quench::test {
namespace {

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

TEST(CliInspect, JsonContract) {
  auto r = run_cli({"inspect", demo("sotu-llama"), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(j["parameters"], 5401856);
  EXPECT_EQ(j["dtype"], "bfloat16");
  ASSERT_EQ(j["layers"].size(), 44u);  // embed + 6 × 7 projections + lm_head
  const auto& l = j["layers"][7];
  EXPECT_EQ(l["name"], "model.layers.0.mlp.down_proj");
  EXPECT_EQ(l["kind"], "Linear");
  EXPECT_EQ(l["shape"], nlohmann::json::array({256, 688}));
  EXPECT_EQ(l["parameters"], 256 * 688);
}

TEST(CliInspect, HumanTableHasOneRowPerLayer) {
  auto r = run_cli({"inspect", demo("mnist-resnet")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ResNetForImageClassification"), std::string::npos);
  EXPECT_NE(r.out.find("resnet.encoder.stages.1.layers.0.shortcut.convolution  Conv2d"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("classifier.1"), std::string::npos);
}

TEST(CliForward, WritesLogitsAndHiddenStatesMatchingTransformers) {
  const std::string tmp = std::filesystem::temp_directory_path() / "quench-forward-test.safetensors";
  for (const char* m : {"llama-tiny", "mamba2-tiny", "resnet-tiny"}) {
    const std::string dir = fixture(std::string("hf-tiny/") + m);
    auto r = run_cli({"forward", dir, "--inputs", dir + "/reference.safetensors", "--out", tmp, "--hidden-states"});
    ASSERT_EQ(r.code, 0) << m << ": " << r.err;
    auto out = load_all_safetensors(tmp);
    auto ref = load_all_safetensors(dir + "/reference.safetensors");
    auto err = (out["logits"] - ref["logits"]).abs().max().item<double>() / ref["logits"].abs().max().item<double>();
    EXPECT_LE(err, 1e-4) << m;
    EXPECT_TRUE(out.count("hidden_states.0") && out.count("hidden_states.2")) << m;
  }
  std::filesystem::remove(tmp);
}

TEST(CliForward, HalfPrecisionRunsAndStaysClose) {
  const std::string tmp = std::filesystem::temp_directory_path() / "quench-forward-bf16.safetensors";
  const std::string dir = fixture("hf-tiny/llama-tiny");
  auto r = run_cli({"forward", dir, "--inputs", dir + "/reference.safetensors", "--out", tmp, "--dtype", "bfloat16"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = load_all_safetensors(tmp)["logits"];
  auto ref = load_all_safetensors(dir + "/reference.safetensors")["logits"];
  EXPECT_EQ(out.scalar_type(), at::kFloat);  // always written as float32
  EXPECT_LE((out - ref).abs().max().item<double>() / ref.abs().max().item<double>(), 0.05);
  std::filesystem::remove(tmp);
}

// float16 on the CPU either works (libtorch 2.x) or is refused up front as a usage error — never a
// libtorch backtrace from deep inside the forward (Debian's 1.13 has no CPU half matmul).
TEST(CliForward, Float16OnTheCpuRunsOrIsRefusedClearly) {
  const std::string tmp = std::filesystem::temp_directory_path() / "quench-forward-f16.safetensors";
  const std::string dir = fixture("hf-tiny/llama-tiny");
  auto r = run_cli({"forward", dir, "--inputs", dir + "/reference.safetensors", "--out", tmp, "--dtype", "float16"});
  if (r.code == 0) {
    auto out = load_all_safetensors(tmp)["logits"];
    auto ref = load_all_safetensors(dir + "/reference.safetensors")["logits"];
    EXPECT_LE((out - ref).abs().max().item<double>() / ref.abs().max().item<double>(), 0.05);
  } else {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("float16 on the CPU is not supported by this libtorch"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("not implemented for"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(tmp));
  }
  std::filesystem::remove(tmp);
}

struct ErrCase {
  std::vector<std::string> args;
  int code;
  const char* expect;
};

class CliErrors : public ::testing::TestWithParam<ErrCase> {};

TEST_P(CliErrors, OneLineNamingTheProblem) {
  const auto& c = GetParam();
  auto r = run_cli(c.args);
  EXPECT_EQ(r.code, c.code) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

const std::string bad = std::string(QUENCH_FIXTURES) + "/bad/";
const std::string tiny = std::string(QUENCH_FIXTURES) + "/hf-tiny/llama-tiny";

INSTANTIATE_TEST_SUITE_P(
    Cases, CliErrors,
    ::testing::Values(
        ErrCase{{"inspect"}, 2, "missing argument MODEL_DIR"},
        ErrCase{{"inspect", tiny, "--bogus"}, 2, "unknown option --bogus"},
        ErrCase{{"frobnicate"}, 2, "unknown command 'frobnicate'"},
        ErrCase{{"forward", tiny, "--out", "/tmp/x.safetensors"}, 2, "missing required option --inputs"},
        ErrCase{{"forward", tiny, "--inputs", tiny + "/reference.safetensors", "--out", "/tmp/x.st", "--dtype", "fp8"}, 2,
                "unknown dtype 'fp8'"},
        ErrCase{{"inspect", bad + "models/unknown-architecture"}, 1, "FooForCausalLM"},
        ErrCase{{"inspect", bad + "models/pickle"}, 1, "pytorch_model.bin: PyTorch pickle"},
        ErrCase{{"inspect", bad + "models/missing-shard"}, 1, "model-00002-of-00002.safetensors"},
        ErrCase{{"inspect", bad + "models/wrong-shape"}, 1, "q_proj.weight' has shape [6, 8]"},
        ErrCase{{"forward", tiny, "--inputs", bad + "safetensors/truncated.safetensors", "--out", "/tmp/x.st"}, 1,
                "truncated.safetensors"},
        ErrCase{{"forward", tiny, "--inputs", bad + "inputs/no-known-tensor.safetensors", "--out", "/tmp/x.st"}, 1,
                "neither 'input_ids' nor 'pixel_values'"},
        ErrCase{{"forward", tiny, "--inputs", bad + "inputs/ids-out-of-vocab.safetensors", "--out", "/tmp/x.st"}, 1,
                "outside the vocabulary [0, 512)"},
        ErrCase{{"forward", tiny, "--inputs", bad + "inputs/ids-float.safetensors", "--out", "/tmp/x.st"}, 1,
                "must hold integers"},
        ErrCase{{"forward", tiny, "--inputs", bad + "inputs/ids-1d.safetensors", "--out", "/tmp/x.st"}, 1,
                "must be [B, T]"},
        ErrCase{{"forward", tiny, "--inputs", bad + "inputs/ids-empty.safetensors", "--out", "/tmp/x.st"}, 1,
                "ids-empty.safetensors: tensor 'input_ids' is empty"},
        ErrCase{{"forward", std::string(QUENCH_FIXTURES) + "/hf-tiny/vit-tiny", "--inputs", tiny + "/reference.safetensors",
                 "--out", "/tmp/x.st"},
                1, "takes pixel_values"}));

TEST(CliHelp, EveryCommandHasHelp) {
  auto r = run_cli({"--help"});
  ASSERT_EQ(r.code, 0);
  for (const char* c : {"inspect", "forward"}) {
    EXPECT_NE(r.out.find(c), std::string::npos);
    auto h = run_cli({c, "--help"});
    EXPECT_EQ(h.code, 0) << c;
    EXPECT_NE(h.out.find("usage: quench-cli"), std::string::npos) << c;
  }
}

}  // namespace
}  // namespace quench::test
