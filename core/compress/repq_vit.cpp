#include "core/compress/repq_vit.h"

#include <algorithm>

#include "core/compress/family.h"
#include "core/util/error.h"

namespace quench {

std::vector<RepqGroup> apply_repq(Model& model, const std::function<int(const Layer&)>& bits_of, const BatchSource& batches,
                                  const Progress& progress) {
  struct Target {
    BlockScaleGroup g;
    int bits;
  };
  std::vector<Target> targets;
  bool any_norm = false;
  for (int64_t b = 0; b < model.num_blocks(); ++b)
    for (auto& g : block_scale_groups(model, b)) {
      if (g.prev_kind != ScaleGroup::Prev::LayerNorm || g.prev_bias.empty()) continue;
      any_norm = true;
      int bits = 0;
      for (const Layer* l : g.layers) bits = std::max(bits, bits_of(*l));
      // The shift goes into the readers' biases: a reader without one cannot take it.
      const bool biased = std::all_of(g.layers.begin(), g.layers.end(), [](const Layer* l) { return l->bias().defined(); });
      if (bits > 0 && biased) targets.push_back({std::move(g), bits});
    }
  QUENCH_CHECK(any_norm, "repq: no LayerNorm → linear groups are known for ", model.architecture(), " (as its file in core/models declares them)");
  if (targets.empty()) return {};
  std::string points;
  for (const auto& t : targets) points += (points.empty() ? "" : ",") + t.g.layers.front()->input_point();
  CalibrationOptions co;
  co.points = points;
  co.weights = false;
  co.histogram_bins = 2;  // only the per-channel minima and maxima are needed
  const CalibrationResult cal = calibrate(model, batches, co, progress);
  std::vector<RepqGroup> out;
  for (const auto& t : targets) {
    const std::string& point = t.g.layers.front()->input_point();
    const ActivationStats* st = cal.point(point);
    QUENCH_CHECK(st && st->channels > 0, "repq: point ", point, " was not reached by the calibration data");
    const at::Tensor mn = at::tensor(st->channel_min, at::kDouble).clamp_max(0), mx = at::tensor(st->channel_max, at::kDouble).clamp_min(0);
    const double levels = static_cast<double>((int64_t{1} << t.bits) - 1);
    at::Tensor s = (mx - mn) / levels;
    s = at::where(s > 0, s, at::ones_like(s));  // a dead channel: any scale folds exactly
    const at::Tensor z = (-mn / s).round();
    const double s_mean = s.mean().item<double>(), z_mean = std::round(z.mean().item<double>());
    const at::Tensor r1 = (s / s_mean).to(at::kFloat), delta = (s * (z - z_mean)).to(at::kFloat);
    // The shift: β ← β + δ, and every reader's b ← b − W·δ, so that W·x + b is unchanged.
    at::Tensor& beta = model.param(t.g.prev_bias);
    model.set_param(t.g.prev_bias, beta.to(at::kFloat) + delta.to(beta.device()));
    for (Layer* l : t.g.layers) {
      const at::Tensor w = l->weight().to(at::kFloat);
      l->set_bias(l->bias().to(at::kFloat) - w.matmul(delta.to(w.device())));
    }
    fold_scale(model, t.g, r1);
    RepqGroup r;
    r.norm = t.g.prev_weight;
    for (const Layer* l : t.g.layers) r.layers.push_back(l->name());
    r.bits = t.bits;
    r.min_r1 = r1.min().item<double>();
    r.max_r1 = r1.max().item<double>();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace quench
