// Evaluation: perplexity bookkeeping, accuracy, fidelity, cancellation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/data/idx.h"
#include "core/eval/evaluate.h"
#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

TEST(Fidelity, IdenticalAndPerturbed) {
  auto a = at::randn({4, 7, 32});
  FidelityAccumulator same;
  same.add(a, a);
  auto f = same.result();
  EXPECT_NEAR(f.kl, 0, 1e-7);
  EXPECT_EQ(f.top1_agreement, 1.0);
  EXPECT_TRUE(std::isinf(f.sqnr_db));
  EXPECT_EQ(f.positions, 28);
  FidelityAccumulator noisy;
  auto noise = 0.1 * at::randn_like(a);
  noisy.add(a, a + noise);
  auto g = noisy.result();
  const double want = 10 * std::log10(a.pow(2).sum().item<double>() / noise.pow(2).sum().item<double>());
  EXPECT_NEAR(g.sqnr_db, want, 1e-3);
  EXPECT_GT(g.kl, 0);
  // A mask drops positions.
  FidelityAccumulator masked;
  masked.add(a, a + noise, at::arange(28).view({4, 7}) < 10);
  EXPECT_EQ(masked.result().positions, 10);
}

TEST(Evaluate, PerplexityMatchesADirectComputation) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  auto ids = at::randint(0, 512, {300}, at::kLong);
  EvalData d;
  d.token_ids = ids;
  EvalOptions o;
  o.ctx = 32;
  o.batch = 3;
  auto r = evaluate(*model, d, o);
  // By hand: 9 windows of 33 tokens.
  double nll = 0;
  at::NoGradGuard ng;
  for (int w = 0; w < 9; ++w) {
    auto win = ids.narrow(0, w * 33, 33).unsqueeze(0);
    ModelInputs in;
    in.input_ids = win.narrow(1, 0, 32);
    auto lp = at::log_softmax(model->forward(in).logits, -1);
    nll -= lp.gather(-1, win.narrow(1, 1, 32).unsqueeze(-1)).sum().item<double>();
  }
  EXPECT_EQ(r.tokens, 9 * 32);
  EXPECT_NEAR(r.value, std::exp(nll / (9 * 32)), 1e-3 * r.value);
  // Sliding windows score the same number of tokens as the stream has predictions.
  o.stride = 8;
  auto s = evaluate(*model, d, o);
  EXPECT_EQ(s.tokens, 299);
}

TEST(Evaluate, FidelityAgainstItselfAndCancellation) {
  auto model = load_model(test::fixture("hf-tiny/mamba-tiny"));
  auto ref = load_model(test::fixture("hf-tiny/mamba-tiny"));
  EvalData d;
  d.token_ids = at::randint(0, 512, {200}, at::kLong);
  EvalOptions o;
  o.ctx = 16;
  auto r = evaluate(*model, d, o, ref.get());
  ASSERT_TRUE(r.fidelity);
  EXPECT_NEAR(r.fidelity->kl, 0, 1e-6);
  EXPECT_EQ(r.fidelity->top1_agreement, 1.0);
  int calls = 0;
  Progress stop_at_second = [&](int64_t, int64_t, double, const std::string&) { return ++calls < 2; };
  EXPECT_THROW(evaluate(*model, d, o, nullptr, stop_at_second), Cancelled);
}

TEST(Evaluate, ImageAccuracyOnDigits) {
  auto model = load_model(test::demo("mnist-resnet"));
  auto ds = load_idx_dataset(test::demo("mnist/test-images-idx3-ubyte.gz"), test::demo("mnist/test-labels-idx1-ubyte.gz"));
  EvalData d;
  d.images = &ds;
  d.preprocess = ImagePreprocessor::from_model_dir(test::demo("mnist-resnet"));
  EvalOptions o;
  o.max_images = 200;
  o.batch = 64;
  auto r = evaluate(*model, d, o);
  EXPECT_EQ(r.n, 200);
  EXPECT_GE(r.value, 0.95);
  EXPECT_GE(r.top5, r.value);
}

// A label the model has no class for is the labels file's fault: the message names that file,
// the label and the image, not the images file beside it.
TEST(Evaluate, BadLabelNamesTheLabelsFile) {
  test::TempDir tmp;
  const at::Tensor labels = read_idx_labels(test::demo("mnist/test-labels-idx1-ubyte.gz")).to(at::kByte).contiguous();
  std::string idx = {0, 0, 8, 1};  // magic 0x00000801, big-endian
  const auto n = static_cast<uint32_t>(labels.numel());
  for (int shift : {24, 16, 8, 0}) idx.push_back(static_cast<char>((n >> shift) & 0xFF));
  idx.append(reinterpret_cast<const char*>(labels.data_ptr<uint8_t>()), labels.numel());
  idx[8 + 7] = 42;  // image 7's label: MNIST has 10 classes
  const std::string bad = tmp.file("bad-labels-idx1-ubyte");
  std::ofstream(bad, std::ios::binary) << idx;
  auto model = load_model(test::demo("mnist-resnet"));
  auto ds = load_idx_dataset(test::demo("mnist/test-images-idx3-ubyte.gz"), bad);
  EvalData d;
  d.images = &ds;
  d.preprocess = ImagePreprocessor::from_model_dir(test::demo("mnist-resnet"));
  EvalOptions o;
  o.max_images = 16;
  try {
    evaluate(*model, d, o);
    FAIL() << "label 42 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), bad + ": label 42 (of image 7) is outside the model's 10 classes");
  }
}

}  // namespace
}  // namespace quench
