// Generation with the decoding cache (core/runs/generate.h, Model::decode): the cached logits are
// the whole sequence's, position by position, so greedy generation equals the loop that runs the
// whole growing sequence each step; sampling is seeded; what cannot decode says so.
#include <gtest/gtest.h>

#include "core/models/registry.h"
#include "core/runs/generate.h"
#include "test_util.h"

namespace quench {
namespace {

at::Tensor tokens(int64_t n, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(1, vocab, {1, n}, at::kLong);
}

class Decode : public ::testing::TestWithParam<std::string> {};

TEST_P(Decode, CachedStepsEqualTheWholeSequence) {
  auto model = load_model(test::fixture("hf-tiny/" + GetParam()));
  ASSERT_TRUE(model->can_decode());
  const auto ids = tokens(24, model->layers().front()->weight().size(0), 3);  // 24 > mistral-tiny's window of 8
  at::NoGradGuard ng;
  const at::Tensor whole = model->forward({ids}).logits;
  Model::DecodeCache cache;
  std::vector<at::Tensor> parts = {model->decode(ids.narrow(1, 0, 10), cache)};
  for (int64_t t = 10; t < 24; ++t) parts.push_back(model->decode(ids.narrow(1, t, 1), cache));
  EXPECT_EQ(cache.pos, 24);
  EXPECT_LE(test::rel_error(at::cat(parts, 1), whole), 1e-5) << GetParam();
}

TEST_P(Decode, GreedyGenerationEqualsTheLoopWithoutCache) {
  auto model = load_model(test::fixture("hf-tiny/" + GetParam()));
  const auto prompt = tokens(5, model->layers().front()->weight().size(0), 4);
  GenerateOptions o;
  o.max_new_tokens = 20;
  std::vector<int64_t> seen;
  const GenerateResult r = generate(*model, prompt, o, [&](int64_t id) { seen.push_back(id); });
  ASSERT_EQ(r.tokens.size(), 20u);
  EXPECT_EQ(seen, r.tokens);
  EXPECT_EQ(r.prompt_tokens, 5);
  at::NoGradGuard ng;
  at::Tensor seq = prompt;
  for (int64_t k = 0; k < 20; ++k) {
    const int64_t next = model->forward({seq}).logits[0][-1].argmax().item<int64_t>();
    EXPECT_EQ(next, r.tokens[static_cast<size_t>(k)]) << GetParam() << " token " << k;
    seq = at::cat({seq, at::full({1, 1}, next, at::kLong)}, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(TextFamilies, Decode, ::testing::Values("llama-tiny", "llama-bias-tiny", "mistral-tiny", "qwen2-tiny", "qwen3-tiny", "gpt2-tiny", "mamba-tiny", "mamba2-tiny",
                                                      "mamba2-untied-tiny"),
                         [](const auto& info) { return test::param_name(info.param); });

TEST(Generate, SamplingIsSeededAndStopsAtEos) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto prompt = tokens(4, 512, 5);
  GenerateOptions o;
  o.max_new_tokens = 12;
  o.temperature = 1.0;
  o.top_k = 50;
  o.top_p = 0.9;
  o.seed = 7;
  const auto a = generate(*model, prompt, o), b = generate(*model, prompt, o);
  EXPECT_EQ(a.tokens, b.tokens);
  o.seed = 8;
  const auto c = generate(*model, prompt, o);
  EXPECT_NE(a.tokens, c.tokens);  // 12 tokens from ≥ 2 candidates each: equal by chance with p < 2^-12
  // top_k 1 is greedy whatever the temperature.
  GenerateOptions g;
  g.max_new_tokens = 12;
  o.top_k = 1;
  o.top_p = 1;
  EXPECT_EQ(generate(*model, prompt, o).tokens, generate(*model, prompt, g).tokens);
  // A stop id ends the generation right after it is emitted.
  g.stop_ids = {generate(*model, prompt, g).tokens[3]};
  const auto s = generate(*model, prompt, g);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.tokens.back(), g.stop_ids[0]);
  EXPECT_LE(s.tokens.size(), 4u);
}

TEST(Generate, RefusalsNameTheirReason) {
  auto vit = load_model(test::fixture("hf-tiny/vit-tiny"));
  EXPECT_FALSE(vit->can_decode());
  GenerateOptions o;
  try {
    generate(*vit, tokens(3, 100, 1), o);
    FAIL() << "vit decoded";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("decoding cache"), std::string::npos) << e.what();
  }
  auto gpt2 = load_model(test::fixture("hf-tiny/gpt2-tiny"));
  o.max_new_tokens = 1000;  // beyond its 64 learned positions: refused before any work
  try {
    generate(*gpt2, tokens(3, 100, 1), o);
    FAIL() << "ran past the model's positions";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("n_positions"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
