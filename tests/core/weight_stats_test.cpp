// Weight statistics: exact against direct reductions for every layer kind, and the outlier input
// channels planted in the hf-tiny fixtures (channels 0 and 1 of every matrix scaled ×8) are found.
#include <gtest/gtest.h>

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
