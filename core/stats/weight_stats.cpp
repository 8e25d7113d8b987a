#include "core/stats/weight_stats.h"

#include <cmath>

#include "core/util/error.h"

namespace quench {

WeightStats weight_stats(const std::string& layer, LayerKind kind, const at::Tensor& weight, const StatsOptions& opts) {
  QUENCH_CHECK(weight.defined() && weight.dim() >= 2 && weight.numel() > 0, layer, ": weight statistics need a non-empty weight of ",
               "at least 2 dimensions, got shape ", weight.defined() ? weight.sizes() : at::IntArrayRef{});
  at::Tensor w = weight.scalar_type() == at::kDouble ? weight : weight.to(at::kFloat);
  const int64_t out = w.size(0), in = w.size(1);

  // Input channels: dim 1, every other axis (output channels, kernel window) counts as samples.
  at::Tensor by_in = w.dim() == 2 ? w : w.movedim(1, -1).reshape({-1, in});  // [out·k…, in]
  const ChannelMoments ci = channel_moments(by_in, 0, /*higher=*/true);
  const double mn = ci.min.min().item<double>(), mx = ci.max.max().item<double>();
  QUENCH_CHECK(std::isfinite(mn) && std::isfinite(mx) && at::isfinite(ci.m4).all().item<bool>(), layer,
               ": the weight holds non-finite values (", kind_name(kind), " ", w.sizes(), ")");
  const ChannelMoments co = channel_moments(w.reshape({out, -1}), 1, /*higher=*/false);

  WeightStats s;
  s.layer = layer;
  s.kind = kind;
  s.shape = weight.sizes().vec();
  Histogram h(opts.histogram_bins, Histogram::Range::Symmetric);
  h.add(w, std::max(std::abs(mn), std::abs(mx)));
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

WeightStats weight_stats(const Layer& layer, const StatsOptions& opts) {
  const at::Tensor w = layer.kernel() ? layer.kernel()->dense_weight() : layer.weight();
  return weight_stats(layer.name(), layer.kind(), w, opts);
}

}  // namespace quench
