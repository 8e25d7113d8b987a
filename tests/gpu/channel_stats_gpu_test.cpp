// channel_stats on CUDA against the CPU reference, over odd shapes, dtypes, strides and histograms.
#include <gtest/gtest.h>

#include "core/ops/channel_stats.h"
#include "gpu_util.h"

namespace quench {
namespace {

using gpu_test::cuda;

ops::ChannelStats poisoned_out(int64_t C, int64_t bins) {
  ops::ChannelStats o;
  o.absmax = gpu_test::poisoned({C}, cuda(at::kFloat));
  o.min = gpu_test::poisoned({C}, cuda(at::kFloat));
  o.max = gpu_test::poisoned({C}, cuda(at::kFloat));
  o.sum = gpu_test::poisoned({C}, cuda(at::kDouble));
  o.sumsq = gpu_test::poisoned({C}, cuda(at::kDouble));
  if (bins > 0) o.histogram = gpu_test::poisoned({bins}, cuda(at::kLong));
  return o;
}

void compare(const at::Tensor& x_gpu, const ops::ChannelStatsOptions& opt, const std::string& what) {
  const auto ref = ops::channel_stats(x_gpu.cpu(), opt);
  auto got = poisoned_out(ref.max.numel(), opt.bins);
  ops::channel_stats_out(x_gpu, opt, got);
  EXPECT_EQ(got.rows, ref.rows) << what;
  EXPECT_TRUE(at::equal(got.absmax.cpu(), ref.absmax)) << what;
  EXPECT_TRUE(at::equal(got.min.cpu(), ref.min)) << what;
  EXPECT_TRUE(at::equal(got.max.cpu(), ref.max)) << what;
  // Float partials per block, double across blocks: bounded by the scale of the sum's terms.
  ops::ChannelStatsOptions plain;
  plain.channel_dim = opt.channel_dim;
  const auto scale = ops::channel_stats(x_gpu.abs().cpu(), plain).sum;
  EXPECT_TRUE(((got.sum.cpu() - ref.sum).abs() <= scale * 1e-5 + 1e-30).all().item<bool>()) << what;
  EXPECT_TRUE(((got.sumsq.cpu() - ref.sumsq).abs() <= ref.sumsq * 1e-5 + 1e-30).all().item<bool>()) << what;
  if (opt.bins > 0) EXPECT_TRUE(at::equal(got.histogram.cpu(), ref.histogram)) << what;  // identical bin formula
}

TEST(ChannelStatsGpu, MatchesCpuReferenceOnOddShapes) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(100);
  const std::vector<std::pair<int64_t, int64_t>> shapes{{1, 1}, {7, 3}, {1000, 8}, {33, 130}, {4099, 257}, {513, 4096}, {20000, 24}};
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (auto [R, C] : shapes)
      for (int64_t bins : {0, 5, 2048, 20000}) {
        auto x = (at::randn({R, C}, cuda()) * 2 + 0.25).to(dtype);
        ops::ChannelStatsOptions opt;
        opt.bins = bins;
        opt.hist_range = 3.0;
        compare(x, opt, std::string(at::toString(dtype)) + " " + std::to_string(R) + "x" + std::to_string(C) + " bins " +
                            std::to_string(bins));
      }
}

// Calibration's form: power sums of x − shift up to the fourth, and each row's absmax.
TEST(ChannelStatsGpu, ShiftedHigherSumsAndRowAbsmaxMatchTheReference) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(102);
  const std::vector<std::pair<int64_t, int64_t>> shapes{{1, 1}, {7, 3}, {33, 130}, {4099, 257}, {513, 4096}, {20000, 24}, {300, 40}};
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (auto [R, C] : shapes) {
      auto x = (at::randn({R, C}, cuda()) * at::randn({R, C}, cuda()).abs() * 2 + 3.0).to(dtype);
      ops::ChannelStatsOptions opt;
      opt.bins = 2048;
      opt.hist_range = 40.0;
      opt.higher = true;
      opt.row_absmax = true;
      opt.shift = x.to(at::kFloat).mean(0);
      const std::string what = std::string(at::toString(dtype)) + " " + std::to_string(R) + "x" + std::to_string(C);
      ops::ChannelStatsOptions ref_opt = opt;
      ref_opt.shift = opt.shift.cpu();
      const auto ref = ops::channel_stats(x.cpu(), ref_opt);
      auto got = poisoned_out(C, opt.bins);
      got.sum3 = gpu_test::poisoned({C}, cuda(at::kDouble));
      got.sum4 = gpu_test::poisoned({C}, cuda(at::kDouble));
      got.row_absmax = gpu_test::poisoned({R}, cuda(at::kFloat));
      ops::channel_stats_out(x, opt, got);
      EXPECT_TRUE(at::equal(got.row_absmax.cpu(), ref.row_absmax)) << what;
      EXPECT_TRUE(at::equal(got.max.cpu(), ref.max)) << what;
      EXPECT_TRUE(at::equal(got.histogram.cpu(), ref.histogram)) << what;
      // Float partials: each sum within 1e-5 of the sum of its terms' magnitudes.
      const auto d = (x.cpu().to(at::kDouble) - ref_opt.shift.to(at::kDouble)).abs();
      const std::vector<std::pair<at::Tensor, at::Tensor>> sums{{got.sum, ref.sum}, {got.sumsq, ref.sumsq}, {got.sum3, ref.sum3}, {got.sum4, ref.sum4}};
      for (size_t k = 0; k < sums.size(); ++k) {
        const auto bound = d.pow(static_cast<double>(k + 1)).sum(0) * 1e-5 + 1e-30;
        EXPECT_TRUE(((sums[k].first.cpu() - sums[k].second).abs() <= bound).all().item<bool>()) << what << " power " << k + 1;
      }
    }
}

TEST(ChannelStatsGpu, StridedAndMisalignedInputs) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(101);
  auto big = at::randn({300, 530}, cuda(at::kHalf));
  ops::ChannelStatsOptions opt;
  opt.bins = 64;
  opt.hist_range = 2.5;
  compare(big.narrow(1, 8, 512), opt, "row stride 530, aligned start");
  compare(big.narrow(1, 3, 200), opt, "row stride 530, misaligned start");
  auto nchw = at::randn({4, 6, 9, 11}, cuda());
  opt.channel_dim = 1;
  compare(nchw, opt, "channel dim 1");
}

TEST(ChannelStatsGpu, NanIsIgnoredLikeTheReference) {
  QUENCH_REQUIRE_CUDA();
  auto x = at::randn({64, 16}, cuda());
  x.index_put_({3, 5}, std::numeric_limits<float>::quiet_NaN());
  ops::ChannelStatsOptions opt;
  opt.bins = 10;
  opt.hist_range = 1.0;
  const auto ref = ops::channel_stats(x.cpu(), opt);
  const auto got = ops::channel_stats(x, opt);
  EXPECT_TRUE(at::equal(got.max.cpu(), ref.max));
  EXPECT_TRUE(at::equal(got.histogram.cpu(), ref.histogram));
  EXPECT_EQ(got.histogram.sum().item<int64_t>(), 64 * 16 - 1);
}

// The shared-memory histogram counts without a per-element NaN test and takes NaNs back out when a
// thread's sums turn NaN; +inf and -inf in one channel turn them NaN too, with no NaN present.
// 2048 channels take the 16-byte path (packed 16-bit extremes for fp16/bf16).
TEST(ChannelStatsGpu, NanAndInfOnTheVectorPathMatchTheReference) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(103);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (bool higher : {false, true}) {
      auto x = at::randn({1031, 2048}, cuda()) * 2 + 0.25;
      for (int64_t r : {0, 17, 500, 1030}) x.index_put_({r, 9}, nan);  // several NaNs in one channel
      x.index_put_({700, 1500}, nan);
      x.index_put_({3, 100}, inf);
      x.index_put_({900, 100}, -inf);
      x.index_put_({42, 2047}, inf);
      x.select(1, 64).fill_(nan);  // a channel of NaN only
      x = x.to(dtype);
      ops::ChannelStatsOptions opt;
      opt.bins = 2048;
      opt.hist_range = 4.0;
      opt.higher = higher;  // calibration's form shares the histogram path
      const std::string what = std::string(at::toString(dtype)) + (higher ? " higher" : " plain");
      const auto ref = ops::channel_stats(x.cpu(), opt);
      auto got = poisoned_out(2048, opt.bins);
      if (higher) {
        got.sum3 = gpu_test::poisoned({2048}, cuda(at::kDouble));
        got.sum4 = gpu_test::poisoned({2048}, cuda(at::kDouble));
      }
      ops::channel_stats_out(x, opt, got);
      EXPECT_TRUE(at::equal(got.absmax.cpu(), ref.absmax)) << what;
      EXPECT_TRUE(at::equal(got.min.cpu(), ref.min)) << what;
      EXPECT_TRUE(at::equal(got.max.cpu(), ref.max)) << what;
      EXPECT_TRUE(at::equal(got.histogram.cpu(), ref.histogram)) << what;
      EXPECT_EQ(got.histogram.sum().item<int64_t>(), 1031 * 2048 - 5 - 1031) << what;
    }
}

}  // namespace
}  // namespace quench
