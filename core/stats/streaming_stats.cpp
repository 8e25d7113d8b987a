#include "core/stats/streaming_stats.h"

#include <algorithm>
#include <cmath>

#include "core/ops/channel_stats.h"
#include "core/util/error.h"

namespace quench {

namespace {

// t as [tokens, channels] in float32 (float64 kept): a view when t already is one, otherwise a
// copy into scratch (channels moved last, half types and integers widened: sums need it).
at::Tensor tokens_by_channels(const at::Tensor& t, int64_t cd, Workspace& ws) {
  const auto st = t.scalar_type();
  const bool real = st == at::kFloat || st == at::kDouble;
  const int64_t C = t.size(cd);
  if (real && cd == t.dim() - 1 && t.is_contiguous()) return t.view({-1, C});
  const at::Tensor moved = cd == t.dim() - 1 ? t : t.movedim(cd, -1);
  auto buf = ws.get(kSlotLayout, moved.sizes(), t.options().dtype(real ? st : at::kFloat));
  buf.copy_(moved);
  return buf.view({-1, C});
}

// One kernel pass over t, its results on the CPU (views of one host buffer).
struct KernelPass {
  int64_t rows = 0, channels = 0;
  at::Tensor host;                       // keeps the pointers below alive
  const double *s1, *s2, *s3, *s4;       // [C]: Σ (x − shift)^k
  const float *min, *max;                // [C]
  const float* token;                    // [rows]: max |x| of each token
  const int64_t* hist = nullptr;         // [bins]; null without bins
  bool finite() const {
    // NaN escapes the extremes (fmin/fmax) but not the sums; ±Inf reaches both.
    for (int64_t c = 0; c < channels; ++c)
      if (!std::isfinite(min[c]) || !std::isfinite(max[c]) || !std::isfinite(s3[c]) || !std::isfinite(s4[c])) return false;
    return true;
  }
  double absmax() const {
    double a = 0;
    for (int64_t c = 0; c < channels; ++c) a = std::max({a, std::abs(static_cast<double>(min[c])), std::abs(static_cast<double>(max[c]))});
    return a;
  }
};

KernelPass kernel_pass(const at::Tensor& t, int64_t cd, const at::Tensor& shift, int64_t bins, double range) {
  const int64_t C = t.size(cd), rows = t.numel() / C;
  // Every result in one device buffer (8-byte parts first), so that one copy — one
  // synchronization — brings them all back.
  const int64_t n8 = 4 * C + bins, n4 = 3 * C + rows;
  const auto dev = at::empty({n8 * 8 + n4 * 4}, t.options().dtype(at::kByte));
  auto views = [&](const at::Tensor& buf) {
    ops::ChannelStats o;
    int64_t off = 0;
    auto take = [&](int64_t n, at::ScalarType st) {
      const int64_t bytes = n * static_cast<int64_t>(c10::elementSize(st));
      auto v = buf.narrow(0, off, bytes).view(st);
      off += bytes;
      return v;
    };
    o.sum = take(C, at::kDouble);
    o.sumsq = take(C, at::kDouble);
    o.sum3 = take(C, at::kDouble);
    o.sum4 = take(C, at::kDouble);
    if (bins > 0) o.histogram = take(bins, at::kLong);
    o.min = take(C, at::kFloat);
    o.max = take(C, at::kFloat);
    o.absmax = take(C, at::kFloat);
    o.row_absmax = take(rows, at::kFloat);
    return o;
  };
  ops::ChannelStats out = views(dev);
  ops::ChannelStatsOptions opt;
  opt.channel_dim = cd;
  opt.bins = bins;
  opt.hist_range = range;
  opt.higher = true;
  opt.row_absmax = true;
  if (shift.defined()) opt.shift = shift.to(t.device());
  ops::channel_stats_out(t, opt, out);
  KernelPass p;
  p.host = dev.to(at::kCPU);
  const ops::ChannelStats h = views(p.host);
  p.rows = out.rows;
  p.channels = C;
  p.s1 = h.sum.data_ptr<double>();
  p.s2 = h.sumsq.data_ptr<double>();
  p.s3 = h.sum3.data_ptr<double>();
  p.s4 = h.sum4.data_ptr<double>();
  p.min = h.min.data_ptr<float>();
  p.max = h.max.data_ptr<float>();
  p.token = h.row_absmax.data_ptr<float>();
  if (bins > 0) p.hist = h.histogram.data_ptr<int64_t>();
  return p;
}

// Central moments from power sums around a shift (binomial expansion, in double); the shift is
// near the mean, so the terms are of the size of the result and little cancels.
ChannelMoments central_moments(const KernelPass& p, const at::Tensor& shift) {
  const int64_t C = p.channels;
  const double n = static_cast<double>(p.rows);
  auto all = at::empty({6, C}, at::kDouble);
  double *mean = all[0].data_ptr<double>(), *m2 = all[1].data_ptr<double>(), *m3 = all[2].data_ptr<double>(),
         *m4 = all[3].data_ptr<double>(), *mn = all[4].data_ptr<double>(), *mx = all[5].data_ptr<double>();
  const float* sh = shift.defined() ? shift.data_ptr<float>() : nullptr;
  for (int64_t c = 0; c < C; ++c) {
    const double m = p.s1[c] / n, q = m * m;
    mean[c] = (sh ? static_cast<double>(sh[c]) : 0.0) + m;
    m2[c] = std::max(0.0, p.s2[c] - n * q);
    m3[c] = p.s3[c] - 3.0 * m * p.s2[c] + 2.0 * n * q * m;
    m4[c] = std::max(0.0, p.s4[c] - 4.0 * m * p.s3[c] + 6.0 * q * p.s2[c] - 3.0 * n * q * q);
    mn[c] = p.min[c];
    mx[c] = p.max[c];
  }
  ChannelMoments cm;
  cm.n = p.rows;
  cm.mean = all[0];
  cm.m2 = all[1];
  cm.m3 = all[2];
  cm.m4 = all[3];
  cm.min = all[4];
  cm.max = all[5];
  return cm;
}

// Moments of n values in double (two passes over a short vector).
Moments moments_of(const float* v, int64_t n) {
  Moments m;
  m.n = static_cast<double>(n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += v[i];
  m.mean = s / m.n;
  for (int64_t i = 0; i < n; ++i) {
    const double d = v[i] - m.mean, d2 = d * d;
    m.m2 += d2;
    m.m3 += d2 * d;
    m.m4 += d2 * d2;
  }
  return m;
}

}  // namespace

StreamingStats::StreamingStats(StatsOptions opts)
    : opts_(opts),
      hist_(opts.histogram_bins, Histogram::Range::Symmetric),
      token_hist_(opts.histogram_bins, Histogram::Range::NonNegative) {
  QUENCH_CHECK(opts.outlier_multiple > 0, "statistics: outlier multiple must be positive, got ", opts.outlier_multiple);
}

void StreamingStats::add(const at::Tensor& t, int64_t channel_dim, const std::string& point, Workspace* ws) {
  const std::string where = point.empty() ? std::string("statistics") : point;
  QUENCH_CHECK(t.defined(), where, ": undefined tensor");
  QUENCH_CHECK(t.dim() >= 1, where, ": cannot take statistics of a 0-dimensional tensor");
  QUENCH_CHECK(!t.is_complex(), where, ": complex tensors are not supported");
  const int64_t cd = channel_dim < 0 ? channel_dim + t.dim() : channel_dim;
  QUENCH_CHECK(cd >= 0 && cd < t.dim(), where, ": channel axis ", channel_dim, " is out of range for shape ", t.sizes());
  const int64_t C = t.size(cd);
  QUENCH_CHECK(channels_ == 0 || C == channels_, where, ": ", C, " channels (axis ", channel_dim, " of shape ", t.sizes(),
               "), but earlier tensors had ", channels_);
  if (t.numel() == 0) return;
  channels_ = C;
  channel_dim_ = channel_dim;
  shape_ = t.sizes().vec();

  Workspace local;
  Workspace& w = ws ? *ws : local;
  if (opts_.kernels && ops::channel_stats_on_kernel(t) && add_with_kernel(t, cd, w)) return;
  const at::Tensor x = tokens_by_channels(t, cd, w);  // [tokens, channels]

  // NaN and ±Inf propagate into the per-channel extremes and moments, so the small results tell
  // whether the tensor was finite without another pass over it.
  const ChannelMoments cm = channel_moments(x, 0, /*higher=*/true, &w);
  const bool finite = at::isfinite(cm.min).all().item<bool>() && at::isfinite(cm.max).all().item<bool>() &&
                      at::isfinite(cm.m4).all().item<bool>();
  if (!finite) {
    const int64_t bad = x.numel() - at::isfinite(x).sum().item<int64_t>();
    QUENCH_CHECK(bad > 0, where, ": statistics overflowed on finite values (max |x| ", x.abs().max().item<double>(), ")");
    nonfinite_ += bad;
    ++nonfinite_batches_;
    return;
  }
  add_finite(x, cm, w);
}

bool StreamingStats::add_with_kernel(const at::Tensor& t, int64_t cd, Workspace& ws) {
  const int64_t B = hist_.bins();
  // Bins of a range under ~1e-30 (denormal activations) would overflow a float32 scale: such a
  // histogram goes through Histogram::add, which bins in double.
  auto binnable = [&](double limit) { return limit > 0 && static_cast<double>(B) / (2.0 * limit) <= 1e30; };
  at::Tensor shift = channel_n_ > 0 ? ch_mean_.to(at::kFloat) : at::Tensor();
  const double limit0 = hist_.limit();
  KernelPass p = kernel_pass(t, cd, shift, binnable(limit0) ? B : 0, limit0);
  if (!p.finite()) return false;
  const double absmax = p.absmax();
  hist_.grow(absmax);
  // Again when the sums were not around a mean yet (a point's first tensor: its own mean is the
  // shift now), or when the histogram had no range or a range that this tensor exceeded.
  const bool refit = !shift.defined();
  const bool rebin = binnable(hist_.limit()) && !(binnable(limit0) && hist_.limit() == limit0);
  if (refit || rebin) {
    if (refit) {
      shift = at::empty({p.channels}, at::kFloat);
      for (int64_t c = 0; c < p.channels; ++c) shift.data_ptr<float>()[c] = static_cast<float>(p.s1[c] / static_cast<double>(p.rows));
    }
    p = kernel_pass(t, cd, shift, binnable(hist_.limit()) ? B : 0, hist_.limit());
    QUENCH_CHECK(p.finite(), "statistics: the second pass over a finite tensor overflowed (max |x| ", absmax, ")");
  }
  merge_channels(central_moments(p, shift));
  if (binnable(hist_.limit())) hist_.add_binned(p.hist);
  else hist_.add(t, absmax, &ws);  // zeros only (counted without a pass), or a denormal range
  // Per-token maxima: exact from the kernel; moments and histogram on the CPU (a short vector).
  const Moments tm = moments_of(p.token, p.rows);
  const double tmax = *std::max_element(p.token, p.token + p.rows);
  token_.merge(tm);
  token_max_ = std::max(token_max_, tmax);
  token_hist_.add_values(p.token, p.rows, tmax);
  ++batches_;
  return true;
}

void StreamingStats::merge_channels(const ChannelMoments& cm) {
  const double bmin = cm.min.min().item<double>(), bmax = cm.max.max().item<double>();
  all_.merge(pool_channels(cm));
  if (batches_ == 0) {
    min_ = bmin;
    max_ = bmax;
    ch_min_ = cm.min;
    ch_max_ = cm.max;
  } else {
    min_ = std::min(min_, bmin);
    max_ = std::max(max_, bmax);
    ch_min_ = at::minimum(ch_min_, cm.min);
    ch_max_ = at::maximum(ch_max_, cm.max);
  }
  merge_channel_m2(channel_n_, ch_mean_, ch_m2_, static_cast<double>(cm.n), cm.mean, cm.m2);
}

void StreamingStats::add_finite(const at::Tensor& x, const ChannelMoments& cm, Workspace& ws) {
  merge_channels(cm);
  hist_.add(x, std::max(std::abs(cm.min.min().item<double>()), std::abs(cm.max.max().item<double>())), &ws);
  // Per token: max over channels of |x| = max(max, −min) over each row, without an |x| copy.
  merge_tokens(at::maximum(at::amax(x, {1}), -at::amin(x, {1})), ws);
  ++batches_;
}

void StreamingStats::merge_tokens(const at::Tensor& token, Workspace& ws) {
  const ChannelMoments tm = channel_moments(token.unsqueeze(1), 0, /*higher=*/true, &ws);
  const double tmax = tm.max.item<double>();
  token_.merge(pool_channels(tm));
  token_max_ = std::max(token_max_, tmax);
  token_hist_.add(token, tmax, &ws);
}

ActivationStats StreamingStats::result(const std::string& point) const {
  ActivationStats s;
  s.point = point;
  s.channel_dim = channel_dim_;
  s.shape = shape_;
  s.batches = batches_;
  s.nonfinite = nonfinite_;
  s.nonfinite_batches = nonfinite_batches_;
  s.all = make_distribution(all_, min_, max_, hist_);
  s.channels = channels_;
  if (batches_ > 0) {
    s.channel_min = to_doubles(ch_min_);
    s.channel_max = to_doubles(ch_max_);
    s.channel_absmax = to_doubles(at::maximum(ch_max_.abs(), ch_min_.abs()));
    s.channel_mean = to_doubles(ch_mean_);
    s.channel_std = to_doubles((ch_m2_ / channel_n_).sqrt());
  }
  s.token_max.count = static_cast<int64_t>(token_.n);
  s.token_max.max = token_max_;
  s.token_max.mean = token_.mean;
  s.token_max.std = token_.std();
  s.token_max.histogram = token_hist_;
  s.token_max.percentiles = abs_percentiles(token_hist_);
  s.outliers = find_outlier_channels(s.channel_absmax, opts_.outlier_multiple);
  return s;
}

size_t StreamingStats::memory_bytes() const {
  size_t b = sizeof(*this);
  b += hist_.counts().capacity() * sizeof(int64_t) + token_hist_.counts().capacity() * sizeof(int64_t);
  b += shape_.capacity() * sizeof(int64_t);
  for (const at::Tensor* t : {&ch_mean_, &ch_m2_, &ch_min_, &ch_max_})
    if (t->defined()) b += static_cast<size_t>(t->numel()) * t->element_size();
  return b;
}

}  // namespace quench
