// The growing histogram: merging on range growth is exact, percentiles land within one bin.
#include <gtest/gtest.h>

#include "core/stats/histogram.h"
#include "core/util/error.h"

namespace quench {
namespace {

TEST(Histogram, GrowingRangeEqualsOnePassWithTheFinalRange) {
  at::manual_seed(7);
  Histogram streamed(64);
  std::vector<at::Tensor> parts;
  for (int b = 0; b < 30; ++b) {
    // Dyadic values (multiples of 1/64 below 2^k) sit exactly on bin edges at every scale and
    // stress the edge handling of both the merge and histc.
    auto x = at::randint(-64 * (1 << (b / 3)), 64 * (1 << (b / 3)) + 1, {257 + 13 * b}, at::kDouble) / 64.0 + 0.5 / 64;
    parts.push_back(x);
    streamed.add(x.to(at::kFloat));
  }
  const auto all = at::cat(parts);
  const double final_limit = streamed.limit();
  EXPECT_GE(final_limit, all.abs().max().item<double>());
  Histogram direct = Histogram::from_parts(Histogram::Range::Symmetric, final_limit, std::vector<int64_t>(64, 0));
  direct.add(all.to(at::kFloat));
  EXPECT_EQ(direct.limit(), final_limit);
  EXPECT_EQ(streamed.counts(), direct.counts());
  EXPECT_EQ(streamed.total(), all.numel());
}

TEST(Histogram, DoublingMergesAroundZero) {
  Histogram h(8);
  h.add(at::tensor({-1.0, -0.6, -0.1, 0.1, 0.3, 0.9}));  // limit 1, width 0.25
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{1, 1, 0, 1, 1, 1, 0, 1}));
  h.add(at::tensor({3.5}));  // limit 4 (two doublings), width 1
  EXPECT_EQ(h.limit(), 4.0);
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{0, 0, 0, 3, 3, 0, 0, 1}));
  EXPECT_EQ(h.edges(), (std::vector<double>{-4, -3, -2, -1, 0, 1, 2, 3, 4}));
}

TEST(Histogram, PercentilesOfAbsWithinOneBin) {
  at::manual_seed(8);
  auto x = at::randn({200000}, at::kDouble).to(at::kFloat);
  Histogram h(2048);
  for (int64_t b = 0; b < x.numel(); b += 20000) h.add(x.narrow(0, b, 20000));
  auto sorted = std::get<0>(x.abs().to(at::kDouble).sort());
  const double bin = h.bin_width();
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99, 99.999}) {
    const auto k = static_cast<int64_t>(std::floor((x.numel() - 1) * p / 100));
    EXPECT_NEAR(h.abs_percentile(p), sorted[k].item<double>(), bin) << p;
  }
  EXPECT_NEAR(h.abs_percentile(100), sorted[-1].item<double>(), bin);
}

TEST(Histogram, TinyRangesDoNotOverflowTheScale) {
  Histogram h(4);
  h.add(at::tensor({-2e-39f, 0.0f, 0.5e-39f, 1.5e-39f, 2e-39f}));  // float32 denormals, none on an edge but the ends
  EXPECT_EQ(h.counts(), (std::vector<int64_t>{1, 0, 2, 2}));
}

TEST(Histogram, NonNegativeRangeAndItsErrors) {
  Histogram h(10, Histogram::Range::NonNegative);
  h.add(at::tensor({0.0, 1.0, 2.0, 9.99}));
  EXPECT_EQ(h.lo(), 0.0);
  EXPECT_EQ(h.limit(), 9.99);
  EXPECT_EQ(h.total(), 4);
  h.add(at::tensor({25.0}));  // doubles twice: 39.96
  EXPECT_EQ(h.limit(), 4 * 9.99);
  EXPECT_EQ(h.total(), 5);
  EXPECT_THROW(h.add(at::tensor({-1.0, 3.0})), Error);  // negative values do not fit
  EXPECT_THROW(Histogram(7), Error);                    // symmetric needs an even count
  EXPECT_THROW(Histogram::from_parts(Histogram::Range::Symmetric, -1, {1, 2}), Error);
}

}  // namespace
}  // namespace quench
