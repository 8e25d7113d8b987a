// Streaming statistics equal an exact two-pass computation in double over the same values, when
// fed in many uneven batches whose range keeps growing.
#include <gtest/gtest.h>

#include <cmath>

#include "core/stats/streaming_stats.h"
#include "core/util/error.h"

namespace quench {
namespace {

constexpr double kTol = 1e-5;

// Relative error, with `scale` as the floor of the denominator (a mean near 0 is judged against
// the spread of the data, not against itself).
double rel(double got, double want, double scale = 0) { return std::abs(got - want) / std::max({std::abs(want), scale, 1e-300}); }

// Student-t with `dof` degrees of freedom: N(0,1) / sqrt(χ²_dof / dof).
at::Tensor student_t(int64_t rows, int64_t cols, int dof) {
  auto chi2 = at::zeros({rows, cols}, at::kDouble);
  for (int i = 0; i < dof; ++i) chi2 += at::randn({rows, cols}, at::kDouble).square();
  return at::randn({rows, cols}, at::kDouble) / (chi2 / dof).sqrt();
}

// Scales successive uneven slices of rows by growing factors (so the histogram's range doubles
// many times) and returns the slices' boundaries. data: F64 [rows, cols], modified in place.
std::vector<int64_t> uneven_growing_batches(at::Tensor& data) {
  std::vector<int64_t> bounds{0};
  const int64_t rows = data.size(0);
  int64_t b = 0;
  while (bounds.back() < rows) {
    const int64_t len = std::min<int64_t>(rows - bounds.back(), 1 + (b * 7919) % 977);  // 1 … 977 rows
    data.narrow(0, bounds.back(), len).mul_(std::pow(1.06, b));  // ~1000× over ~120 batches
    bounds.push_back(bounds.back() + len);
    ++b;
  }
  return bounds;
}

struct Exact {
  double mean, std, kurtosis, min, max;
  at::Tensor ch_absmax, ch_mean, ch_std, ch_min, ch_max;  // F64 [C]
  at::Tensor abs_sorted;                                  // F64 [N·C] sorted |x|
  at::Tensor token_sorted;                                // F64 [N] sorted per-row max |x|
};

Exact exact(const at::Tensor& x) {  // x: F64 [N, C]
  Exact e;
  e.mean = x.mean().item<double>();
  auto d = x - e.mean;
  const double var = d.square().mean().item<double>();
  e.std = std::sqrt(var);
  e.kurtosis = d.pow(4).mean().item<double>() / (var * var);
  e.min = x.min().item<double>();
  e.max = x.max().item<double>();
  e.ch_absmax = std::get<0>(x.abs().max(0));
  e.ch_mean = x.mean(0);
  e.ch_std = (x - e.ch_mean).square().mean(0).sqrt();
  e.ch_min = std::get<0>(x.min(0));
  e.ch_max = std::get<0>(x.max(0));
  e.abs_sorted = std::get<0>(x.abs().reshape({-1}).sort());
  e.token_sorted = std::get<0>(std::get<0>(x.abs().max(1)).sort());
  return e;
}

// The histogram percentile must lie within one bin of the exact quantile's interval: the order
// statistics [k, k+1] it interpolates between, k = ⌊(n − 1)·p/100⌋.
void expect_percentile(double got, const at::Tensor& sorted, double p, double bin, const std::string& what) {
  const int64_t n = sorted.numel();
  const auto k = static_cast<int64_t>(std::floor(static_cast<double>(n - 1) * p / 100.0));
  const double lo = sorted[k].item<double>(), hi = sorted[std::min(k + 1, n - 1)].item<double>();
  EXPECT_GE(got, lo - bin * (1 + 1e-9)) << what << " p" << p;
  EXPECT_LE(got, hi + bin * (1 + 1e-9)) << what << " p" << p;
}

void expect_vector_near(const std::vector<double>& got, const at::Tensor& want, const at::Tensor& scale, const std::string& what) {
  ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, rel(got[i], want[i].item<double>(), scale.defined() ? scale[i].item<double>() : 0));
  EXPECT_LE(worst, kTol) << what;
}

// Feeds x (F64 [N, C]) as float32 batches in alternating layouts and checks everything.
void check_against_exact(at::Tensor x, const std::string& what) {
  const auto bounds = uneven_growing_batches(x);
  x = x.to(at::kFloat).to(at::kDouble);  // the reference sees exactly the values fed
  const int64_t C = x.size(1);
  StreamingStats s;
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    auto slice = x.narrow(0, bounds[b], bounds[b + 1] - bounds[b]).to(at::kFloat);
    if (b % 3 == 1) {
      s.add(slice.t().unsqueeze(0), 1, what);  // [1, C, T], channels on axis 1 as a conv sees them
    } else if (b % 3 == 2 && slice.size(0) % 2 == 0) {
      s.add(slice.view({2, -1, C}), -1, what);  // [2, T/2, C]
    } else {
      s.add(slice, -1, what);
    }
  }
  ASSERT_GE(s.batches(), 30) << what;
  const Exact e = exact(x);
  const ActivationStats r = s.result(what);
  const double n = static_cast<double>(x.numel());

  EXPECT_EQ(r.all.count, x.numel()) << what;
  EXPECT_LE(rel(r.all.mean, e.mean, e.std), kTol) << what << " mean " << r.all.mean << " vs " << e.mean;
  EXPECT_LE(rel(r.all.std, e.std), kTol) << what << " std " << r.all.std << " vs " << e.std;
  EXPECT_LE(rel(r.all.kurtosis, e.kurtosis), kTol) << what << " kurtosis " << r.all.kurtosis << " vs " << e.kurtosis;
  EXPECT_EQ(r.all.min, e.min) << what;
  EXPECT_EQ(r.all.max, e.max) << what;
  EXPECT_EQ(r.all.absmax, std::max(-e.min, e.max)) << what;

  ASSERT_EQ(r.channels, C);
  expect_vector_near(r.channel_absmax, e.ch_absmax, {}, what + " channel absmax");
  expect_vector_near(r.channel_min, e.ch_min, {}, what + " channel min");
  expect_vector_near(r.channel_max, e.ch_max, {}, what + " channel max");
  expect_vector_near(r.channel_mean, e.ch_mean, e.ch_std, what + " channel mean");
  expect_vector_near(r.channel_std, e.ch_std, {}, what + " channel std");

  const Histogram& h = r.all.histogram;
  EXPECT_EQ(h.total(), x.numel()) << what;
  EXPECT_GE(h.limit(), r.all.absmax) << what;
  EXPECT_LT(h.limit(), 2 * r.all.absmax) << what;  // the doubling never overshoots by 2× or more
  const double bin = 2 * h.limit() / static_cast<double>(h.bins());
  expect_percentile(r.all.percentiles.p99, e.abs_sorted, 99, bin, what);
  expect_percentile(r.all.percentiles.p99_9, e.abs_sorted, 99.9, bin, what);
  expect_percentile(r.all.percentiles.p99_99, e.abs_sorted, 99.99, bin, what);
  expect_percentile(r.all.percentiles.p99_999, e.abs_sorted, 99.999, bin, what);

  // Per-token maxima (one token = one row of x).
  const auto& tk = r.token_max;
  EXPECT_EQ(tk.count, x.size(0)) << what;
  EXPECT_EQ(tk.max, e.token_sorted[-1].item<double>()) << what;
  EXPECT_LE(rel(tk.mean, e.token_sorted.mean().item<double>()), kTol) << what;
  const double tstd = (e.token_sorted - e.token_sorted.mean()).square().mean().sqrt().item<double>();
  EXPECT_LE(rel(tk.std, tstd), kTol) << what;
  const double tbin = tk.histogram.limit() / static_cast<double>(tk.histogram.bins());
  expect_percentile(tk.percentiles.p99, e.token_sorted, 99, tbin, what + " token");
  expect_percentile(tk.percentiles.p99_9, e.token_sorted, 99.9, tbin, what + " token");
  (void)n;
}

TEST(StreamingStats, NormalDataMatchesExactTwoPass) {
  at::manual_seed(1);
  check_against_exact(at::randn({60000, 24}, at::kDouble) * 0.7 + 0.3, "normal");
}

TEST(StreamingStats, StudentT3MatchesExactTwoPass) {
  at::manual_seed(2);
  check_against_exact(student_t(60000, 24, 3), "student-t(3)");
}

TEST(StreamingStats, PlantedOutlierChannelsMatchExactAndAreFound) {
  at::manual_seed(3);
  auto x = at::randn({40000, 32}, at::kDouble);
  x.select(1, 5).mul_(20);
  x.select(1, 17).mul_(12);
  x.select(1, 9).add_(3);  // an offset channel: large mean, normal spread
  check_against_exact(x.clone(), "outliers");

  StreamingStats s(StatsOptions{2048, 4.0});
  for (int64_t b = 0; b < 40000; b += 3000) s.add(x.narrow(0, b, std::min<int64_t>(3000, 40000 - b)).to(at::kFloat), -1);
  const auto r = s.result("outliers");
  ASSERT_EQ(r.outliers.channels.size(), 2u);
  EXPECT_EQ(r.outliers.channels[0].channel, 5);  // largest first
  EXPECT_EQ(r.outliers.channels[1].channel, 17);
  EXPECT_NEAR(r.outliers.channels[0].absmax, r.channel_absmax[5], 0);
  EXPECT_GT(r.outliers.channels[1].ratio, 4.0);
  EXPECT_GT(r.outliers.median_absmax, 0);
}

TEST(StreamingStats, ShapeStatisticsOfKnownDistributions) {
  at::manual_seed(4);
  StreamingStats normal, uniform;
  for (int i = 0; i < 20; ++i) {
    normal.add(at::randn({5000, 10}), -1);
    uniform.add(at::rand({5000, 10}) * 2 - 1, -1);
  }
  const auto n = normal.result("n"), u = uniform.result("u");
  EXPECT_NEAR(n.all.kurtosis, 3.0, 0.05);
  EXPECT_NEAR(n.all.skewness, 0.0, 0.03);
  EXPECT_NEAR(n.all.percentiles.p99, 2.5758, 0.02);   // |N(0,1)| quantiles
  EXPECT_NEAR(n.all.percentiles.p99_9, 3.2905, 0.05);
  EXPECT_NEAR(u.all.kurtosis, 1.8, 0.02);             // uniform: 9/5
  EXPECT_NEAR(u.all.std, 1 / std::sqrt(3.0), 0.005);
  EXPECT_NEAR(u.all.percentiles.p99, 0.99, 0.002);
}

TEST(StreamingStats, MemoryDoesNotDependOnTheNumberOfBatches) {
  StreamingStats s;
  s.add(at::randn({4, 16, 32}), -1);
  const size_t after_one = s.memory_bytes();
  for (int i = 0; i < 40; ++i) s.add(at::randn({4, 16, 32}) * (1 + i), -1);
  EXPECT_EQ(s.memory_bytes(), after_one);
  EXPECT_LT(after_one, 64u * 1024);  // two 2048-bin histograms and 4 × 32 doubles
}

TEST(StreamingStats, NonFiniteTensorsAreCountedAndLeftOut) {
  auto a = at::randn({10, 8});
  auto bad = at::randn({10, 8});
  bad[2][3] = std::numeric_limits<float>::quiet_NaN();
  bad[4][1] = std::numeric_limits<float>::infinity();
  auto nan_only = at::randn({10, 8});
  nan_only[7][7] = std::numeric_limits<float>::quiet_NaN();
  StreamingStats s, ref;
  s.add(a, -1);
  s.add(bad, -1);
  s.add(nan_only, -1);
  ref.add(a, -1);
  const auto r = s.result("p"), rr = ref.result("p");
  EXPECT_EQ(r.nonfinite, 3);
  EXPECT_EQ(r.nonfinite_batches, 2);
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.all.count, 80);
  EXPECT_DOUBLE_EQ(r.all.std, rr.all.std);
  EXPECT_EQ(r.channel_max, rr.channel_max);
}

TEST(StreamingStats, AllZerosThenDataKeepsTheZerosInTheCentreBin) {
  StreamingStats s;
  s.add(at::zeros({5, 4}), -1);
  s.add(at::ones({5, 4}), -1);
  const auto r = s.result("p");
  const auto& h = r.all.histogram;
  EXPECT_EQ(h.total(), 40);
  EXPECT_EQ(h.counts()[h.bins() / 2], 20);  // the zeros: bin [0, w)
  EXPECT_EQ(h.counts()[h.bins() - 1], 20);  // the ones: the last bin (limit = 1)
  EXPECT_DOUBLE_EQ(r.all.mean, 0.5);
  EXPECT_DOUBLE_EQ(r.all.std, 0.5);
}

TEST(StreamingStats, HalfPrecisionAndDoubleInputsWork) {
  auto x = at::randn({64, 16});
  StreamingStats a, b;
  a.add(x.to(at::kBFloat16), -1);
  b.add(x.to(at::kDouble), -1);
  EXPECT_NEAR(a.result("p").all.std, b.result("p").all.std, 0.02);
  EXPECT_EQ(b.result("p").all.max, x.to(at::kDouble).max().item<double>());
}

TEST(StreamingStats, ChangingChannelCountThrowsNamingThePoint) {
  StreamingStats s;
  s.add(at::randn({3, 8}), -1, "model.layers.0.mlp.up_proj:output");
  try {
    s.add(at::randn({3, 9}), -1, "model.layers.0.mlp.up_proj:output");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj:output"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.add(at::randn({3, 8}), 2, "p"), Error);  // axis out of range
  EXPECT_EQ(s.batches(), 1);
}

}  // namespace
}  // namespace quench
