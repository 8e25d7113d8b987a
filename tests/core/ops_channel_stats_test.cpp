// CPU reference of channel_stats against plain libtorch reductions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/ops/channel_stats.h"
#include "core/util/error.h"

namespace quench {
namespace {

// bin = floor(fma(v, scale, bins/2)) clamped: the documented formula, computed independently of
// the reference's loops (the float32 product is exact in double; one rounding to float32 after).
at::Tensor expected_histogram(const at::Tensor& x, int64_t bins, double range) {
  const float scale = static_cast<float>(bins / (2.0 * range));
  auto v = x.to(at::kFloat).flatten();
  v = v.masked_select(v == v);
  auto t = (v.to(at::kDouble) * static_cast<double>(scale) + static_cast<double>(bins / 2)).to(at::kFloat);
  t = t.clamp(0.0, static_cast<double>(bins - 1)).to(at::kLong);
  return at::bincount(t, {}, bins);
}

TEST(ChannelStats, MatchesTorchReductionsOnOddShapes) {
  at::manual_seed(1);
  for (auto shape : {std::vector<int64_t>{1, 1}, {7, 3}, {129, 130}, {5, 4, 33}, {1000, 8}}) {
    auto x = at::randn(shape) * 3 + 0.5;
    const int64_t C = shape.back();
    auto x2 = x.reshape({-1, C});
    ops::ChannelStatsOptions opt;
    opt.bins = 37;
    opt.hist_range = 4.0;
    auto st = ops::channel_stats(x, opt);
    EXPECT_EQ(st.rows, x2.size(0));
    EXPECT_TRUE(at::equal(st.absmax, x2.abs().amax(0)));
    EXPECT_TRUE(at::equal(st.min, x2.amin(0)));
    EXPECT_TRUE(at::equal(st.max, x2.amax(0)));
    auto xd = x2.to(at::kDouble);
    EXPECT_TRUE(at::allclose(st.sum, xd.sum(0), 1e-12, 1e-9));
    EXPECT_TRUE(at::allclose(st.sumsq, (xd * xd).sum(0), 1e-12, 1e-9));
    EXPECT_TRUE(at::equal(st.histogram, expected_histogram(x, 37, 4.0)));
    EXPECT_EQ(st.histogram.sum().item<int64_t>(), x.numel());  // edges catch everything beyond the range
  }
}

TEST(ChannelStats, ShiftedPowerSumsAndRowAbsmax) {
  at::manual_seed(5);
  auto x = at::randn({211, 19}) * 2 + 7;  // far from 0: the shift is what keeps the sums small
  ops::ChannelStatsOptions opt;
  opt.shift = at::full({19}, 7.f);
  opt.shift[3] = -1.f;
  opt.higher = true;
  opt.row_absmax = true;
  auto st = ops::channel_stats(x, opt);
  auto d = (x - opt.shift).to(at::kDouble);  // x − shift rounded to float32, as the kernel subtracts
  EXPECT_TRUE(at::allclose(st.sum, d.sum(0), 1e-10, 1e-9));
  EXPECT_TRUE(at::allclose(st.sumsq, d.pow(2).sum(0), 1e-10, 1e-9));
  EXPECT_TRUE(at::allclose(st.sum3, d.pow(3).sum(0), 1e-10, 1e-9));
  EXPECT_TRUE(at::allclose(st.sum4, d.pow(4).sum(0), 1e-10, 1e-9));
  EXPECT_TRUE(at::equal(st.row_absmax, x.abs().amax(1)));
  EXPECT_TRUE(at::equal(st.max, x.amax(0)));  // extremes are of x itself, not of x − shift
  opt.shift = at::zeros({18});
  EXPECT_THROW(ops::channel_stats(x, opt), Error);
}

TEST(ChannelStats, HalfPrecisionInputIsReadExactly) {
  at::manual_seed(2);
  auto x = (at::randn({300, 24}) * 10).to(at::kHalf);
  auto st = ops::channel_stats(x);
  EXPECT_TRUE(at::equal(st.max, x.to(at::kFloat).amax(0)));
  EXPECT_TRUE(at::allclose(st.sum, x.to(at::kDouble).sum(0), 1e-12, 1e-9));
  EXPECT_FALSE(st.histogram.defined());
}

TEST(ChannelStats, ChannelDimMovesToLast) {
  at::manual_seed(3);
  auto x = at::randn({2, 5, 3, 4});  // NCHW: channel dim 1
  ops::ChannelStatsOptions opt;
  opt.channel_dim = 1;
  auto st = ops::channel_stats(x, opt);
  EXPECT_EQ(st.max.numel(), 5);
  EXPECT_EQ(st.rows, 24);
  EXPECT_TRUE(at::equal(st.max, x.transpose(0, 1).reshape({5, -1}).amax(1)));
}

TEST(ChannelStats, NanIsSkippedByMinMaxAndHistogram) {
  auto x = at::tensor({1.f, std::numeric_limits<float>::quiet_NaN(), -2.f, 5.f}).view({4, 1});
  ops::ChannelStatsOptions opt;
  opt.bins = 4;
  opt.hist_range = 2.0;
  auto st = ops::channel_stats(x, opt);
  EXPECT_EQ(st.min.item<float>(), -2.f);
  EXPECT_EQ(st.max.item<float>(), 5.f);
  EXPECT_EQ(st.absmax.item<float>(), 5.f);
  EXPECT_TRUE(std::isnan(st.sum.item<double>()));
  // bins of width 1 over [-2, 2]: 1 → bin 3, -2 → bin 0, 5 → clamped to bin 3.
  EXPECT_TRUE(at::equal(st.histogram, at::tensor({1, 0, 0, 2}, at::kLong)));
}

TEST(ChannelStats, StridedRowsNeedNoCopy) {
  at::manual_seed(4);
  auto big = at::randn({50, 40});
  auto x = big.narrow(1, 3, 17);  // rows 40 apart, 17 channels
  auto st = ops::channel_stats(x);
  EXPECT_TRUE(at::equal(st.max, x.amax(0)));
}

TEST(ChannelStats, RejectsBadArguments) {
  auto x = at::randn({4, 4});
  ops::ChannelStatsOptions opt;
  opt.bins = 10;  // no range
  EXPECT_THROW(ops::channel_stats(x, opt), Error);
  EXPECT_THROW(ops::channel_stats(x.to(at::kDouble)), Error);
  opt = {};
  opt.channel_dim = 2;
  EXPECT_THROW(ops::channel_stats(x, opt), Error);
  ops::ChannelStats out;
  out.absmax = at::empty({3});
  EXPECT_THROW(ops::channel_stats_out(x, {}, out), Error);
}

}  // namespace
}  // namespace quench
