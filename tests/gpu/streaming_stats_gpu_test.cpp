// Calibration statistics on CUDA (the channel-statistics kernel inside StreamingStats) against the
// CPU path (libtorch reductions) on the same values: activation-like data peaked near 0 with
// outlier channels, batches of uneven length whose range keeps growing, three dtypes, channels
// last and on axis 1; and a whole calibration of a tiny model on both devices.
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "core/stats/streaming_stats.h"
#include "gpu_util.h"

namespace quench {
namespace {

double rel(double got, double want, double floor = 1e-300) { return std::abs(got - want) / std::max(std::abs(want), floor); }

// Bins may differ where a value sits within a rounding of a bin edge (the CPU path rounds half
// inputs' x·scale before adding the offset; the kernel fuses the two): allow a few per million.
void expect_close_histograms(const Histogram& got, const Histogram& want, const std::string& what) {
  EXPECT_EQ(got.limit(), want.limit()) << what;
  EXPECT_EQ(got.total(), want.total()) << what;
  int64_t diff = 0;
  for (int64_t i = 0; i < want.bins(); ++i) diff += std::abs(got.counts()[i] - want.counts()[i]);
  EXPECT_LE(diff, 2 + want.total() / 200000) << what << ": " << diff << " counts in other bins";
}

void expect_close_vectors(const std::vector<double>& got, const std::vector<double>& want, const std::vector<double>& scale, double tol,
                          const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_LE(std::abs(got[i] - want[i]), tol * std::max(std::abs(want[i]), scale[i]) + 1e-30) << what << " [" << i << "]";
}

void expect_like_cpu(const ActivationStats& g, const ActivationStats& c, const std::string& what) {
  EXPECT_EQ(g.batches, c.batches) << what;
  EXPECT_EQ(g.nonfinite, c.nonfinite) << what;
  EXPECT_EQ(g.channels, c.channels) << what;
  EXPECT_EQ(g.all.count, c.all.count) << what;
  EXPECT_EQ(g.all.min, c.all.min) << what;
  EXPECT_EQ(g.all.max, c.all.max) << what;
  EXPECT_LE(std::abs(g.all.mean - c.all.mean), 1e-5 * c.all.std) << what;
  EXPECT_LE(rel(g.all.std, c.all.std), 1e-5) << what;
  EXPECT_LE(std::abs(g.all.skewness - c.all.skewness), 1e-4 * std::max(1.0, std::abs(c.all.skewness))) << what;
  EXPECT_LE(rel(g.all.kurtosis, c.all.kurtosis), 1e-4) << what;
  EXPECT_EQ(g.channel_min, c.channel_min) << what;
  EXPECT_EQ(g.channel_max, c.channel_max) << what;
  EXPECT_EQ(g.channel_absmax, c.channel_absmax) << what;
  expect_close_vectors(g.channel_mean, c.channel_mean, c.channel_std, 1e-5, what + " channel mean");
  expect_close_vectors(g.channel_std, c.channel_std, c.channel_std, 1e-5, what + " channel std");
  expect_close_histograms(g.all.histogram, c.all.histogram, what + " histogram");
  const double w = c.all.histogram.bin_width();
  EXPECT_LE(std::abs(g.all.percentiles.p99_9 - c.all.percentiles.p99_9), w) << what;
  // Per-token maxima are exact on both devices.
  EXPECT_EQ(g.token_max.count, c.token_max.count) << what;
  EXPECT_EQ(g.token_max.max, c.token_max.max) << what;
  EXPECT_LE(rel(g.token_max.mean, c.token_max.mean), 1e-6) << what;
  EXPECT_LE(rel(g.token_max.std, c.token_max.std, 1e-12), 1e-5) << what;
  expect_close_histograms(g.token_max.histogram, c.token_max.histogram, what + " token histogram");
}

// [rows, C] activation-like values: most near 0 (Laplace-ish), per-channel offsets and scales,
// two outlier channels; batch b scaled by 1.25^b so the histogram's range grows.
at::Tensor activation(int64_t rows, int64_t C, int b) {
  auto scale = at::linspace(0.2, 1.5, C).view({1, C});
  auto offset = at::linspace(-0.3, 0.6, C).view({1, C});
  auto x = at::randn({rows, C}) * at::randn({rows, C}).abs() * scale + offset;  // heavy-tailed, peaked
  x.select(1, C / 3).mul_(25.0);
  x.select(1, C - 1).add_(8.0);
  return x * std::pow(1.25, b);
}

TEST(StreamingStatsGpu, KernelPathMatchesCpuPath) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(900);
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (int layout = 0; layout < 2; ++layout) {
      const int64_t C = layout == 0 ? 264 : 40;
      StreamingStats gpu, cpu;
      for (int b = 0; b < 9; ++b) {
        const int64_t tokens = 7 + (b * 131) % 300;  // uneven batches
        auto x = activation(tokens, C, b).to(dtype);
        // layout 0: [B, T, C] (Linear), layout 1: [B, C, H, W] (Conv, channels on axis 1).
        at::Tensor t = layout == 0 ? x.view({1, tokens, C}) : x.view({tokens, 1, 1, C}).permute({0, 3, 1, 2}).contiguous();
        const int64_t cd = layout == 0 ? -1 : 1;
        cpu.add(t, cd, "p");
        gpu.add(t.cuda(), cd, "p");
      }
      expect_like_cpu(gpu.result("p"), cpu.result("p"), std::string(at::toString(dtype)) + (layout ? " NCHW" : " NTC"));
    }
}

TEST(StreamingStatsGpu, RangeFixedByTheFirstBatchThenRebinned) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(901);
  StreamingStats gpu, cpu;
  // Small first, then ×1000 (rebins 10 doublings at once), then within range, then zeros.
  for (double s : {1e-3, 1.0, 0.5, 0.0, 2.0}) {
    auto x = (at::randn({3, 50, 96}) * s);
    cpu.add(x, -1);
    gpu.add(x.cuda(), -1);
  }
  expect_like_cpu(gpu.result("p"), cpu.result("p"), "growing range");
}

TEST(StreamingStatsGpu, AllZerosFirstKeepTheZerosInTheCentreBin) {
  QUENCH_REQUIRE_CUDA();
  StreamingStats s;
  s.add(at::zeros({5, 4}, gpu_test::cuda(at::kHalf)), -1);
  s.add(at::ones({5, 4}, gpu_test::cuda(at::kHalf)), -1);
  const auto r = s.result("p");
  const auto& h = r.all.histogram;
  EXPECT_EQ(h.total(), 40);
  EXPECT_EQ(h.counts()[h.bins() / 2], 20);
  EXPECT_EQ(h.counts()[h.bins() - 1], 20);
  EXPECT_DOUBLE_EQ(r.all.mean, 0.5);
  EXPECT_DOUBLE_EQ(r.all.std, 0.5);
}

TEST(StreamingStatsGpu, NonFiniteTensorsAreCountedAndLeftOut) {
  QUENCH_REQUIRE_CUDA();
  auto a = at::randn({10, 8});
  auto bad = at::randn({10, 8});
  bad[2][3] = std::numeric_limits<float>::quiet_NaN();
  bad[4][1] = std::numeric_limits<float>::infinity();
  auto nan_only = at::randn({10, 8});
  nan_only[7][7] = std::numeric_limits<float>::quiet_NaN();
  StreamingStats gpu, cpu;
  for (const auto& t : {a, bad, nan_only}) {
    cpu.add(t, -1);
    gpu.add(t.cuda(), -1);
  }
  const auto g = gpu.result("p");
  EXPECT_EQ(g.nonfinite, 3);
  EXPECT_EQ(g.nonfinite_batches, 2);
  expect_like_cpu(g, cpu.result("p"), "non-finite");
}

// A whole calibration on each device: the forward passes differ by float32 rounding (TF32 off),
// so the statistics agree to that level rather than exactly.
TEST(StreamingStatsGpu, CalibrationOnCudaMatchesCpu) {
  QUENCH_REQUIRE_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  const std::string dir = std::string(QUENCH_FIXTURES) + "/hf-tiny/llama-tiny";
  auto run = [&](at::Device dev) {
    LoadOptions o;
    o.device = dev;
    auto model = load_model(dir, o);
    auto left = std::make_shared<int64_t>(4);
    BatchSource src = [left, dev]() -> std::optional<ModelInputs> {
      if ((*left)-- == 0) return std::nullopt;
      at::manual_seed(40 + *left);
      ModelInputs in;
      in.input_ids = at::randint(0, 512, {2, 16}, at::kLong).to(dev);
      return in;
    };
    CalibrationOptions opts;
    opts.weights = false;
    return calibrate(*model, src, opts);
  };
  const auto c = run(at::kCPU), g = run(at::Device(at::kCUDA, 0));
  ASSERT_EQ(c.points.size(), g.points.size());
  ASSERT_FALSE(c.points.empty());
  for (size_t i = 0; i < c.points.size(); ++i) {
    const auto &pc = c.points[i], &pg = g.points[i];
    ASSERT_EQ(pc.point, pg.point);
    EXPECT_EQ(pg.all.count, pc.all.count) << pc.point;
    EXPECT_EQ(pg.all.histogram.total(), pc.all.histogram.total()) << pc.point;
    EXPECT_LE(rel(pg.all.absmax, pc.all.absmax), 1e-4) << pc.point;
    EXPECT_LE(rel(pg.all.std, pc.all.std), 1e-4) << pc.point;
    EXPECT_LE(rel(pg.all.kurtosis, pc.all.kurtosis), 1e-3) << pc.point;
    EXPECT_LE(rel(pg.token_max.mean, pc.token_max.mean), 1e-4) << pc.point;
    expect_close_vectors(pg.channel_absmax, pc.channel_absmax, pc.channel_absmax, 1e-4, pc.point);
    ASSERT_EQ(pg.outliers.channels.size(), pc.outliers.channels.size()) << pc.point;
    for (size_t k = 0; k < pc.outliers.channels.size(); ++k) EXPECT_EQ(pg.outliers.channels[k].channel, pc.outliers.channels[k].channel) << pc.point;
  }
}

}  // namespace
}  // namespace quench
