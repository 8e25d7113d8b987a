#include "core/stats/streaming_stats.h"

#include <cmath>

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

void StreamingStats::add_finite(const at::Tensor& x, const ChannelMoments& cm, Workspace& ws) {
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
  hist_.add(x, std::max(std::abs(bmin), std::abs(bmax)), &ws);
  merge_channel_m2(channel_n_, ch_mean_, ch_m2_, static_cast<double>(cm.n), cm.mean, cm.m2);

  // Per token: max over channels of |x| = max(max, −min) over each row, without an |x| copy.
  auto token = at::maximum(at::amax(x, {1}), -at::amin(x, {1}));  // [tokens]
  const ChannelMoments tm = channel_moments(token.unsqueeze(1), 0, /*higher=*/true, &ws);
  const double tmax = tm.max.item<double>();
  token_.merge(pool_channels(tm));
  token_max_ = std::max(token_max_, tmax);
  token_hist_.add(token, tmax, &ws);
  ++batches_;
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
