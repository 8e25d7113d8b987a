// On CUDA: decoding with the cache computes what the whole sequence computes, for every text
// family, and greedy generation picks the CPU's tokens. Skipped where no GPU is visible.
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "core/models/registry.h"
#include "core/runs/generate.h"
#include "gpu_util.h"

namespace quench {
namespace {

std::string fixture(const std::string& rel) { return std::string(QUENCH_FIXTURES) + "/" + rel; }

class DecodeGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeGpu, CachedStepsEqualTheWholeSequence) {
  QUENCH_REQUIRE_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  LoadOptions o;
  o.device = at::Device(at::kCUDA, 0);
  auto model = load_model(fixture("hf-tiny/" + GetParam()), o);
  at::manual_seed(3);
  const auto ids = at::randint(1, model->layers().front()->weight().size(0), {2, 20}, at::kLong);
  at::NoGradGuard ng;
  const at::Tensor whole = model->forward({ids}).logits;
  Model::DecodeCache cache;
  std::vector<at::Tensor> parts = {model->decode(ids.narrow(1, 0, 7), cache)};
  for (int64_t t = 7; t < 20; ++t) parts.push_back(model->decode(ids.narrow(1, t, 1), cache));
  EXPECT_LE(gpu_test::rel_fro(at::cat(parts, 1), whole), 1e-5) << GetParam();
  // Greedy tokens as on the CPU.
  auto cpu = load_model(fixture("hf-tiny/" + GetParam()));
  GenerateOptions g;
  g.max_new_tokens = 16;
  const auto prompt = ids.narrow(0, 0, 1).narrow(1, 0, 5).contiguous();
  EXPECT_EQ(generate(*model, prompt, g).tokens, generate(*cpu, prompt, g).tokens) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(TextFamilies, DecodeGpu,
                         ::testing::Values("llama-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gpt2-tiny", "mamba-tiny", "mamba2-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace quench
