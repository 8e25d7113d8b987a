// A model streamed from its checkpoint one block at a time (--max-memory below the whole model)
// computes exactly what the whole model computes, for every fixture family; a budget below one
// block is refused before any work, naming the block.
#include <gtest/gtest.h>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/core/grad_mode.h>

#include <filesystem>

#include "core/eval/evaluate.h"
#include "core/io/safetensors.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

MemoryPlan plan_of(const std::string& dir) {
  LoadOptions lo;
  lo.materialize = false;
  return plan_memory(*load_model(dir, lo), at::kFloat, 0);
}

class Streaming : public ::testing::TestWithParam<std::string> {};

TEST_P(Streaming, LogitsAndHiddenStatesEqualTheWholeModel) {
  const std::string dir = test::fixture("hf-tiny/" + GetParam());
  auto ref = load_all_safetensors(dir + "/reference.safetensors");
  ModelInputs in;
  if (ref.count("input_ids")) in.input_ids = ref["input_ids"];
  else in.pixel_values = ref["pixel_values"];
  auto whole = load_model(dir);
  MemoryPlan plan;
  auto model = test::streamed_model(dir, &plan);
  ASSERT_TRUE(plan.stream) << plan.describe();
  ASSERT_TRUE(model->streaming());
  EXPECT_LT(plan.streamed_peak(), plan.whole);
  at::NoGradGuard ng;
  const auto a = whole->forward(in, true), b = model->forward(in, true);
  EXPECT_TRUE(at::equal(a.logits, b.logits)) << GetParam() << ": max |Δ| " << (a.logits - b.logits).abs().max().item<double>();
  ASSERT_EQ(a.hidden_states.size(), b.hidden_states.size());
  for (size_t i = 0; i < a.hidden_states.size(); ++i) EXPECT_TRUE(at::equal(a.hidden_states[i], b.hidden_states[i])) << GetParam() << " " << i;
  // Between forwards every layer is back at rest: the stored dtype, nothing converted kept.
  for (const auto& l : model->layers()) EXPECT_TRUE(l->streamed()) << l->name();
  // A second pass reads the released pages again from the file.
  EXPECT_TRUE(at::equal(model->forward(in).logits, a.logits)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(HfTiny, Streaming, ::testing::ValuesIn(test::reference_fixtures()),
                         [](const auto& info) { return test::param_name(info.param); });

TEST(StreamingPlan, ABudgetBelowOneBlockIsRefusedNamingIt) {
  const std::string dir = test::fixture("hf-tiny/llama-tiny");
  const MemoryPlan need = plan_of(dir);
  LoadOptions lo;
  lo.max_memory = need.streamed_peak() - 1;
  try {
    load_model(dir, lo);
    FAIL() << "expected a refusal";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--max-memory"), std::string::npos) << m;
    EXPECT_NE(m.find(need.block_name), std::string::npos) << m;
    EXPECT_NE(m.find("llama-tiny"), std::string::npos) << m;
  }
  // A budget that holds the whole model keeps the fast path.
  lo.max_memory = need.whole;
  MemoryPlan got;
  lo.plan = &got;
  auto m = load_model(dir, lo);
  EXPECT_FALSE(got.stream);
  EXPECT_FALSE(m->streaming());
  EXPECT_NE(got.describe().find("loaded whole"), std::string::npos) << got.describe();
}

TEST(StreamingPlan, SlicedHeadMatchesTheWholeHead) {
  // Heads above the slice size are converted a slice of rows at a time; a tiny slice makes the
  // fixture's head go through that path.
  const std::string dir = test::fixture("hf-tiny/llama-tiny");
  auto whole = load_model(dir);
  LoadOptions lo;
  lo.materialize = false;
  auto model = load_model(dir, lo);
  model->stream(at::kCPU, at::kFloat, 1024);
  ModelInputs in;
  in.input_ids = at::arange(12, at::kLong).reshape({2, 6});
  at::NoGradGuard ng;
  const auto a = whole->forward(in).logits, b = model->forward(in).logits;
  EXPECT_LE(test::rel_error(b, a), 1e-6);
}

TEST(StreamingPlan, PerplexityAndCalibrationEqualTheWholeModel) {
  const std::string dir = test::demo("sotu-llama");
  auto whole = load_model(dir);
  auto model = test::streamed_model(dir);
  ASSERT_TRUE(model->streaming());
  EvalData data;
  at::manual_seed(3);
  data.token_ids = at::randint(0, 1000, {4 * 65}, at::kLong);
  EvalOptions o;
  o.ctx = 64;
  o.batch = 2;
  EXPECT_EQ(evaluate(*whole, data, o).value, evaluate(*model, data, o).value);

  auto batches = [] {
    auto left = std::make_shared<int>(2);
    return BatchSource([left]() -> std::optional<ModelInputs> {
      if ((*left)-- == 0) return std::nullopt;
      ModelInputs in;
      in.input_ids = at::arange(32, at::kLong).reshape({2, 16}) + 7 * *left;
      return in;
    });
  };
  // The streamed model calibrates block-major (every batch through a block before the next
  // block): each point still sees the batches in order, so every statistic is the same.
  const CalibrationResult a = calibrate(*whole, batches(), {}), b = calibrate(*model, batches(), {});
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.batches, b.batches);
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.points.size(), b.points.size());
  for (size_t i = 0; i < a.points.size(); ++i) {
    EXPECT_EQ(a.points[i].point, b.points[i].point);
    EXPECT_EQ(a.points[i].batches, b.points[i].batches) << a.points[i].point;
    EXPECT_EQ(a.points[i].channel_absmax, b.points[i].channel_absmax) << a.points[i].point;
    EXPECT_EQ(a.points[i].channel_mean, b.points[i].channel_mean) << a.points[i].point;
    EXPECT_EQ(a.points[i].channel_std, b.points[i].channel_std) << a.points[i].point;
  }
  ASSERT_EQ(a.weights.size(), b.weights.size());
  for (size_t i = 0; i < a.weights.size(); ++i) EXPECT_EQ(a.weights[i].in_absmax, b.weights[i].in_absmax) << a.weights[i].layer;
}

TEST(StreamingPlan, BatchesGoThroughTheBlocksInGroupsUnderTheHiddenStateBound) {
  const std::string dir = test::fixture("hf-tiny/llama-tiny");
  auto whole = load_model(dir);
  auto model = test::streamed_model(dir);
  std::vector<ModelInputs> batches(3);
  for (size_t k = 0; k < batches.size(); ++k) batches[k].input_ids = at::arange(10, at::kLong).reshape({2, 5}) + static_cast<int64_t>(k);
  at::NoGradGuard ng;
  for (const uint64_t bound : {uint64_t(1), uint64_t(1) << 30}) {  // each batch alone; all together
    std::vector<size_t> order;
    int64_t blocks_seen = 0;
    model->forward_batches(
        batches,
        [&](size_t k, const at::Tensor& logits) {
          order.push_back(k);
          EXPECT_TRUE(at::equal(logits, whole->forward(batches[k]).logits)) << "batch " << k << " bound " << bound;
        },
        [&](int64_t, int64_t) { ++blocks_seen; }, bound);
    EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2}));
    EXPECT_EQ(blocks_seen, model->num_blocks() * (bound == 1 ? 3 : 1));
  }
}

TEST(StreamingPlan, ChangingAStreamedLayerIsRefused) {
  auto model = test::streamed_model(test::fixture("hf-tiny/llama-tiny"));
  Layer& l = model->layer("model.layers.0.mlp.up_proj");
  try {
    l.set_weight(at::zeros(l.weight().sizes()));
    FAIL() << "expected a refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj"), std::string::npos) << e.what();
  }
  EXPECT_THROW(l.set_bias(at::zeros({l.out_features()})), Error);
}

}  // namespace
}  // namespace quench
