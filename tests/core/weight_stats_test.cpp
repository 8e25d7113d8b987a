// Weight statistics: exact against direct reductions for every layer kind, and the outlier input
// channels planted in the hf-tiny fixtures (channels 0 and 1 of every matrix scaled ×8) are found.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <chrono>

#include "core/models/registry.h"
#include "core/stats/weight_stats.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

double worst_rel(const std::vector<double>& got, const at::Tensor& want) {
  EXPECT_EQ(static_cast<int64_t>(got.size()), want.numel());
  auto g = at::tensor(got, at::kDouble);
  return ((g - want).abs() / want.abs().clamp_min(1e-30)).max().item<double>();
}

// Checks every field against a direct computation in double.
void check_exact(const WeightStats& s, const at::Tensor& weight) {
  auto w = weight.to(at::kDouble);
  const int64_t out = w.size(0), in = w.size(1);
  auto rows = w.reshape({out, -1});
  auto cols = w.transpose(0, 1).reshape({in, -1});
  EXPECT_EQ(s.shape, weight.sizes().vec());
  EXPECT_LE(worst_rel(s.out_min, std::get<0>(rows.min(1))), 0);
  EXPECT_LE(worst_rel(s.out_max, std::get<0>(rows.max(1))), 0);
  EXPECT_LE(worst_rel(s.out_absmax, std::get<0>(rows.abs().max(1))), 0);
  EXPECT_LE(worst_rel(s.out_std, (rows - rows.mean(1, true)).square().mean(1).sqrt()), 1e-5);
  EXPECT_LE(worst_rel(s.in_absmax, std::get<0>(cols.abs().max(1))), 0);
  EXPECT_LE(worst_rel(s.in_std, (cols - cols.mean(1, true)).square().mean(1).sqrt()), 1e-5);
  const double mean = w.mean().item<double>(), var = (w - mean).square().mean().item<double>();
  EXPECT_NEAR(s.all.mean, mean, 1e-5 * std::sqrt(var));
  EXPECT_NEAR(s.all.std, std::sqrt(var), 1e-5 * std::sqrt(var));
  EXPECT_NEAR(s.all.kurtosis, (w - mean).pow(4).mean().item<double>() / (var * var), 1e-5 * s.all.kurtosis);
  EXPECT_EQ(s.all.absmax, w.abs().max().item<double>());
  EXPECT_EQ(s.all.count, w.numel());
  EXPECT_EQ(s.all.histogram.total(), w.numel());
}

TEST(WeightStats, ExactForLinearConvAndEmbedding) {
  at::manual_seed(11);
  struct Case {
    LayerKind kind;
    at::Tensor w;
  };
  const std::vector<Case> cases{{LayerKind::Linear, at::randn({48, 40}) * 0.05 + 0.01},
                                {LayerKind::Conv2d, at::randn({16, 3, 4, 4})},
                                {LayerKind::Conv1d, at::randn({32, 1, 4})},  // depthwise: one input channel per group
                                {LayerKind::Embedding, at::randn({100, 24}) * 0.3}};
  for (const auto& c : cases) {
    SCOPED_TRACE(kind_name(c.kind));
    check_exact(weight_stats("w", c.kind, c.w), c.w);
  }
}

// Channels 0 and 1 of every projection's input were scaled ×8 when the fixture was made.
TEST(WeightStats, LlamaTinyFlagsThePlantedInputChannelsAndNoOthers) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  int checked = 0;
  for (const auto& l : model->layers()) {
    const WeightStats s = weight_stats(*l);
    SCOPED_TRACE(l->name());
    check_exact(s, l->weight());
    std::vector<int64_t> flagged;
    for (const auto& c : s.outliers.channels) flagged.push_back(c.channel);
    std::sort(flagged.begin(), flagged.end());
    if (l->name() == "model.embed_tokens") {
      EXPECT_TRUE(flagged.empty());  // the embedding was not planted
      continue;
    }
    EXPECT_EQ(flagged, (std::vector<int64_t>{0, 1}));  // q,k,v,o,gate,up,down and lm_head
    for (const auto& c : s.outliers.channels) EXPECT_GT(c.ratio, 5.0);
    ++checked;
  }
  EXPECT_EQ(checked, 2 * 7 + 1);
}

// GPT-2 stores Conv1D weights [in, out] and the fixture scaled that tensor's dim 1, i.e. output
// features 0 and 1; Quench holds them as Linear [out, in], so they must show up as rows 0 and 1.
TEST(WeightStats, Gpt2TinyPlantedChannelsAreOutputRowsAfterTheTranspose) {
  auto model = load_model(test::fixture("hf-tiny/gpt2-tiny"));
  for (const auto& l : model->layers()) {
    if (l->name().find(".h.") == std::string::npos) continue;
    const WeightStats s = weight_stats(*l);
    SCOPED_TRACE(l->name());
    EXPECT_TRUE(s.outliers.channels.empty());
    const auto out = find_outlier_channels(s.out_absmax, kDefaultOutlierMultiple);
    ASSERT_GE(out.channels.size(), 2u);
    EXPECT_TRUE((out.channels[0].channel == 0 && out.channels[1].channel == 1) ||
                (out.channels[0].channel == 1 && out.channels[1].channel == 0));
  }
}

TEST(WeightStats, EveryLayerOfEveryFixture) {
  for (const char* fx : {"gpt2-tiny", "llama-tiny", "mamba-tiny", "vit-tiny"}) {
    auto model = load_model(test::fixture(std::string("hf-tiny/") + fx));
    for (const auto& l : model->layers()) {
      SCOPED_TRACE(l->name());
      const WeightStats s = weight_stats(*l);
      EXPECT_EQ(static_cast<int64_t>(s.out_std.size()), l->weight().size(0));
      EXPECT_EQ(static_cast<int64_t>(s.in_std.size()), l->weight().size(1));
      EXPECT_EQ(s.kind, l->kind());
      EXPECT_GT(s.all.std, 0);
    }
  }
}

// The fused CPU pass (2-D float, bf16, fp16) against libtorch's reductions: the same extremes and
// histogram counts exactly, the same moments to rounding, also for a column far from 0, a first
// row far from the rest (the shift), odd shapes that leave loop tails, all zeros, and weights
// large enough to be split over threads.
TEST(WeightStats, FusedCpuPassEqualsTheReference) {
  at::manual_seed(5);
  at::Tensor offset = at::randn({301, 37}) * 0.02;
  offset.select(1, 3).add_(40.0);  // mean 2000 standard deviations away from 0
  // Rows far from the shift (the first row) in one column: the shifted power sums must still give
  // the moments.
  at::Tensor far = at::randn({500, 9}) * 0.02;
  far[0][4] = 30.0;
  // Big enough for several row chunks and histogram chunks: the per-thread partials are merged.
  at::set_num_threads(2);
  const std::vector<at::Tensor> cases{at::randn({64, 48}) * 0.05, offset, far, at::randn({3, 5}), at::randn({1, 1}),
                                      at::zeros({8, 8}), at::randn({200, 7}).to(at::kBFloat16), at::randn({33, 129}).to(at::kHalf),
                                      at::randn({4096, 64}) * 0.1, (at::randn({3000, 97}) * 0.05).to(at::kBFloat16)};
  for (const auto& w : cases) {
    SCOPED_TRACE(std::string(c10::toString(w.scalar_type())) + " " + c10::str(w.sizes()));
    const WeightStats a = weight_stats("w", LayerKind::Linear, w), b = weight_stats_reference("w", LayerKind::Linear, w);
    EXPECT_EQ(a.out_min, b.out_min);
    EXPECT_EQ(a.out_max, b.out_max);
    EXPECT_EQ(a.in_absmax, b.in_absmax);
    EXPECT_EQ(a.all.histogram.counts(), b.all.histogram.counts());
    EXPECT_EQ(a.all.histogram.limit(), b.all.histogram.limit());
    for (size_t i = 0; i < a.out_std.size(); ++i) EXPECT_NEAR(a.out_std[i], b.out_std[i], 1e-5 * b.out_std[i] + 1e-12) << "row " << i;
    for (size_t i = 0; i < a.in_std.size(); ++i) EXPECT_NEAR(a.in_std[i], b.in_std[i], 1e-5 * b.in_std[i] + 1e-12) << "column " << i;
    EXPECT_NEAR(a.all.mean, b.all.mean, 1e-6 * std::abs(b.all.mean) + 1e-9);
    EXPECT_NEAR(a.all.std, b.all.std, 1e-5 * b.all.std + 1e-12);
    EXPECT_NEAR(a.all.kurtosis, b.all.kurtosis, 1e-4 * b.all.kurtosis + 1e-9);
    EXPECT_NEAR(a.all.skewness, b.all.skewness, 1e-4 * std::abs(b.all.skewness) + 1e-6);
    EXPECT_EQ(a.outliers.channels.size(), b.outliers.channels.size());
  }
  // A NaN is named like an infinity.
  auto w = at::randn({16, 16}).to(at::kBFloat16);
  w[5][9] = NAN;
  EXPECT_THROW(weight_stats("model.layers.0.mlp.down_proj", LayerKind::Linear, w), Error);
}

TEST(WeightStats, NonFiniteWeightThrowsNamingTheLayer) {
  auto w = at::randn({4, 4});
  w[1][2] = std::numeric_limits<float>::infinity();
  try {
    weight_stats("model.layers.3.mlp.up_proj", LayerKind::Linear, w);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.3.mlp.up_proj"), std::string::npos) << e.what();
  }
  EXPECT_THROW(weight_stats("v", LayerKind::Linear, at::randn({4})), Error);
}

}  // namespace
}  // namespace quench
