#include "core/stats/weight_stats.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/util/error.h"

namespace quench {

namespace {

void check_weight(const std::string& layer, const at::Tensor& weight) {
  QUENCH_CHECK(weight.defined() && weight.dim() >= 2 && weight.numel() > 0, layer, ": weight statistics need a non-empty weight of ",
               "at least 2 dimensions, got shape ", weight.defined() ? weight.sizes() : at::IntArrayRef{});
}

void check_finite(const std::string& layer, LayerKind kind, const at::Tensor& weight, const ChannelMoments& ci, double mn, double mx) {
  QUENCH_CHECK(std::isfinite(mn) && std::isfinite(mx) && at::isfinite(ci.m4).all().item<bool>(), layer,
               ": the weight holds non-finite values (", kind_name(kind), " ", weight.sizes(), ")");
}

// Per-input-channel (column) and per-output-channel (row) moments of a [rows, cols] CPU weight in
// one pass, then its histogram in a second: what channel_moments and Histogram::add compute with
// about ten passes of libtorch ops and full-size temporaries (5 GB for a 1B model's embedding
// table), here with per-thread accumulators of one row's size. Power sums are double, taken
// around a shift (the first row for columns, each row's first value for rows), which keeps the
// central moments exact for any weight whose values sit within ~10⁴ standard deviations of it.
template <typename T>
void fused_cpu_stats(const T* w, int64_t rows, int64_t cols, ChannelMoments& ci, ChannelMoments& co, int64_t slice_rows,
                     const std::function<void()>& between_slices) {
  std::vector<double> shift(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) shift[j] = static_cast<float>(w[j]);
  struct Acc {
    std::vector<double> s1, s2, s3, s4;
    std::vector<float> mn, mx;
  };
  std::vector<Acc> acc(static_cast<size_t>(at::get_num_threads()));
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  co.n = cols;
  co.mean = at::empty({rows}, f64);
  co.m2 = at::empty({rows}, f64);
  co.min = at::empty({rows}, f64);
  co.max = at::empty({rows}, f64);
  double *r_mean = co.mean.data_ptr<double>(), *r_m2 = co.m2.data_ptr<double>(), *r_min = co.min.data_ptr<double>(),
         *r_max = co.max.data_ptr<double>();
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / cols);
  for (int64_t r0 = 0; r0 < rows; r0 += slice_rows) {
  at::parallel_for(r0, std::min(rows, r0 + slice_rows), grain, [&](int64_t begin, int64_t end) {
    Acc& a = acc[static_cast<size_t>(at::get_thread_num())];
    if (a.s1.empty()) {
      for (auto* v : {&a.s1, &a.s2, &a.s3, &a.s4}) v->assign(static_cast<size_t>(cols), 0.0);
      a.mn.assign(static_cast<size_t>(cols), std::numeric_limits<float>::infinity());
      a.mx.assign(static_cast<size_t>(cols), -std::numeric_limits<float>::infinity());
    }
    std::vector<float> x(static_cast<size_t>(cols));
    double *s1 = a.s1.data(), *s2 = a.s2.data(), *s3 = a.s3.data(), *s4 = a.s4.data();
    float *mn = a.mn.data(), *mx = a.mx.data();
    const double* k = shift.data();
    for (int64_t r = begin; r < end; ++r) {
      const T* row = w + r * cols;
      float* xs = x.data();
      for (int64_t j = 0; j < cols; ++j) xs[j] = static_cast<float>(row[j]);
      // Columns: independent lanes, so the compiler vectorizes this loop.
      for (int64_t j = 0; j < cols; ++j) {
        const double d = static_cast<double>(xs[j]) - k[j], d2 = d * d;
        s1[j] += d;
        s2[j] += d2;
        s3[j] += d2 * d;
        s4[j] += d2 * d2;
        mn[j] = xs[j] < mn[j] ? xs[j] : mn[j];
        mx[j] = xs[j] > mx[j] ? xs[j] : mx[j];
      }
      // The row: four accumulators of each kind break the dependency chain.
      const double rk = xs[0];
      double t1[4] = {0, 0, 0, 0}, t2[4] = {0, 0, 0, 0};
      float lo[4] = {xs[0], xs[0], xs[0], xs[0]}, hi[4] = {xs[0], xs[0], xs[0], xs[0]};
      int64_t j = 0;
      for (; j + 4 <= cols; j += 4)
        for (int u = 0; u < 4; ++u) {
          const double d = static_cast<double>(xs[j + u]) - rk;
          t1[u] += d;
          t2[u] += d * d;
          lo[u] = xs[j + u] < lo[u] ? xs[j + u] : lo[u];
          hi[u] = xs[j + u] > hi[u] ? xs[j + u] : hi[u];
        }
      for (; j < cols; ++j) {
        const double d = static_cast<double>(xs[j]) - rk;
        t1[0] += d;
        t2[0] += d * d;
        lo[0] = xs[j] < lo[0] ? xs[j] : lo[0];
        hi[0] = xs[j] > hi[0] ? xs[j] : hi[0];
      }
      const double n = static_cast<double>(cols), S1 = t1[0] + t1[1] + t1[2] + t1[3], S2 = t2[0] + t2[1] + t2[2] + t2[3];
      r_mean[r] = rk + S1 / n;
      r_m2[r] = std::max(0.0, S2 - S1 * S1 / n);
      // A NaN anywhere in the row makes its sums NaN; min/max then say so too.
      r_min[r] = std::isnan(S1) ? NAN : std::min({lo[0], lo[1], lo[2], lo[3]});
      r_max[r] = std::isnan(S1) ? NAN : std::max({hi[0], hi[1], hi[2], hi[3]});
    }
  });
  if (between_slices) between_slices();
  }
  std::vector<double> S1(cols, 0.0), S2(cols, 0.0), S3(cols, 0.0), S4(cols, 0.0), MN(cols, INFINITY), MX(cols, -INFINITY);
  for (const Acc& a : acc) {
    if (a.s1.empty()) continue;
    for (int64_t j = 0; j < cols; ++j) {
      S1[j] += a.s1[j], S2[j] += a.s2[j], S3[j] += a.s3[j], S4[j] += a.s4[j];
      MN[j] = std::min<double>(MN[j], a.mn[j]), MX[j] = std::max<double>(MX[j], a.mx[j]);
    }
  }
  ci.n = rows;
  for (auto* t : {&ci.mean, &ci.m2, &ci.m3, &ci.m4, &ci.min, &ci.max}) *t = at::empty({cols}, f64);
  double *mean = ci.mean.data_ptr<double>(), *m2 = ci.m2.data_ptr<double>(), *m3 = ci.m3.data_ptr<double>(),
         *m4 = ci.m4.data_ptr<double>(), *cmin = ci.min.data_ptr<double>(), *cmax = ci.max.data_ptr<double>();
  const double n = static_cast<double>(rows);
  for (int64_t j = 0; j < cols; ++j) {
    // Central moments from the shifted power sums: with μ = S1/n (the mean of x − shift),
    // M2 = S2 − nμ², M3 = S3 − 3μS2 + 2nμ³, M4 = S4 − 4μS3 + 6μ²S2 − 3nμ⁴.
    const double mu = S1[j] / n;
    mean[j] = shift[j] + mu;
    m2[j] = std::max(0.0, S2[j] - n * mu * mu);
    m3[j] = S3[j] - 3 * mu * S2[j] + 2 * n * mu * mu * mu;
    m4[j] = std::max(0.0, S4[j] - 4 * mu * S3[j] + 6 * mu * mu * S2[j] - 3 * n * mu * mu * mu * mu);
    if (std::isnan(S4[j])) m4[j] = NAN;
    cmin[j] = std::isnan(S1[j]) ? NAN : MN[j];
    cmax[j] = std::isnan(S1[j]) ? NAN : MX[j];
  }
}

// The histogram of a [rows, cols] CPU weight by Histogram's own binning formula, counted per thread.
template <typename T>
void fused_cpu_histogram(const T* w, int64_t numel, Histogram& h, int64_t slice, const std::function<void()>& between_slices) {
  const int64_t B = h.bins();
  const float s = h.scale(), o = h.offset(), top = static_cast<float>(B - 1);
  std::vector<std::vector<int64_t>> counts(static_cast<size_t>(at::get_num_threads()));
  for (int64_t i0 = 0; i0 < numel; i0 += slice) {
    at::parallel_for(i0, std::min(numel, i0 + slice), 1 << 16, [&](int64_t begin, int64_t end) {
      auto& c = counts[static_cast<size_t>(at::get_thread_num())];
      if (c.empty()) c.assign(static_cast<size_t>(B), 0);
      for (int64_t i = begin; i < end; ++i)
        ++c[static_cast<size_t>(std::fmin(std::fmax(std::fmaf(static_cast<float>(w[i]), s, o), 0.f), top))];
    });
    if (between_slices) between_slices();
  }
  std::vector<int64_t> total(static_cast<size_t>(B), 0);
  for (const auto& c : counts)
    for (size_t i = 0; i < c.size(); ++i) total[i] += c[i];
  h.add_binned(total.data());
}

WeightStats finish(const std::string& layer, LayerKind kind, const at::Tensor& weight, const ChannelMoments& ci, const ChannelMoments& co,
                   double mn, double mx, Histogram h, const StatsOptions& opts) {
  WeightStats s;
  s.layer = layer;
  s.kind = kind;
  s.shape = weight.sizes().vec();
  s.all = make_distribution(pool_channels(ci), mn, mx, std::move(h));
  const double n_out = static_cast<double>(co.n), n_in = static_cast<double>(ci.n);
  s.out_min = to_doubles(co.min);
  s.out_max = to_doubles(co.max);
  s.out_absmax = to_doubles(at::maximum(co.min.abs(), co.max.abs()));
  s.out_std = to_doubles((co.m2 / n_out).sqrt());
  s.in_absmax = to_doubles(at::maximum(ci.min.abs(), ci.max.abs()));
  s.in_std = to_doubles((ci.m2 / n_in).sqrt());
  s.outliers = find_outlier_channels(s.in_absmax, opts.outlier_multiple);
  return s;
}

}  // namespace

WeightStats weight_stats(const std::string& layer, LayerKind kind, const at::Tensor& weight, const StatsOptions& opts,
                         const std::function<void()>& between_slices) {
  check_weight(layer, weight);
  const auto type = weight.scalar_type();
  if (!weight.is_cpu() || weight.dim() != 2 || (type != at::kFloat && type != at::kBFloat16 && type != at::kHalf))
    return weight_stats_reference(layer, kind, weight, opts);
  const at::Tensor w = weight.contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  // Whole when nobody waits between slices: one parallel pass, the summation order of before.
  const int64_t slice_rows = between_slices ? std::max<int64_t>(1, (int64_t(32) << 20) / std::max<int64_t>(1, cols * static_cast<int64_t>(w.element_size()))) : rows;
  ChannelMoments ci, co;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, type, "weight_stats", [&] {
    fused_cpu_stats(w.data_ptr<scalar_t>(), rows, cols, ci, co, std::max<int64_t>(1, slice_rows), between_slices);
  });
  const double mn = ci.min.min().item<double>(), mx = ci.max.max().item<double>();
  check_finite(layer, kind, weight, ci, mn, mx);
  Histogram h(opts.histogram_bins, Histogram::Range::Symmetric);
  const double absmax = std::max(std::abs(mn), std::abs(mx));
  h.grow(absmax);
  // All zeros, or a range too small for a float32 scale: the generic binning handles those.
  if (h.limit() == 0 || static_cast<double>(h.bins()) / (h.hi() - h.lo()) > 1e30) h.add(w, absmax);
  else
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, type, "weight_histogram", [&] {
      fused_cpu_histogram(w.data_ptr<scalar_t>(), w.numel(), h, std::max<int64_t>(1, slice_rows * cols), between_slices);
    });
  return finish(layer, kind, weight, ci, co, mn, mx, std::move(h), opts);
}

WeightStats weight_stats_reference(const std::string& layer, LayerKind kind, const at::Tensor& weight, const StatsOptions& opts) {
  check_weight(layer, weight);
  at::Tensor w = weight.scalar_type() == at::kDouble ? weight : weight.to(at::kFloat);
  const int64_t out = w.size(0), in = w.size(1);

  // Input channels: dim 1, every other axis (output channels, kernel window) counts as samples.
  at::Tensor by_in = w.dim() == 2 ? w : w.movedim(1, -1).reshape({-1, in});  // [out·k…, in]
  const ChannelMoments ci = channel_moments(by_in, 0, /*higher=*/true);
  const double mn = ci.min.min().item<double>(), mx = ci.max.max().item<double>();
  check_finite(layer, kind, w, ci, mn, mx);
  const ChannelMoments co = channel_moments(w.reshape({out, -1}), 1, /*higher=*/false);
  Histogram h(opts.histogram_bins, Histogram::Range::Symmetric);
  h.add(w, std::max(std::abs(mn), std::abs(mx)));
  return finish(layer, kind, weight, ci, co, mn, mx, std::move(h), opts);
}

WeightStats weight_stats(const Layer& layer, const StatsOptions& opts, const std::function<void()>& between_slices) {
  const at::Tensor w = layer.kernel() ? layer.kernel()->dense_weight() : layer.weight();
  return weight_stats(layer.name(), layer.kind(), w, opts, between_slices);
}

}  // namespace quench
