#include "core/compress/smoothquant.h"

#include "core/compress/family.h"
#include "core/util/error.h"

namespace quench {

at::Tensor smoothquant_scales(const at::Tensor& act_absmax, const std::vector<at::Tensor>& weights, double alpha) {
  QUENCH_CHECK(!weights.empty(), "smoothquant_scales: no weights");
  const at::Tensor a = act_absmax.to(at::kFloat).reshape({-1});
  at::Tensor w;
  for (const auto& wi : weights) {
    const at::Tensor m = wi.to(a.device(), at::kFloat).abs().amax(0);  // [in]
    w = w.defined() ? at::maximum(w, m) : m;
  }
  QUENCH_CHECK(w.numel() == a.numel(), "smoothquant_scales: ", a.numel(), " activation channels but weights have ", w.numel(), " inputs");
  // Channels that never fire (a = 0) keep s = 1e-5 after the clamp in the reference; keep them
  // at 1 instead so their weights are not shrunk towards zero for nothing.
  at::Tensor s = (a.pow(alpha) / w.clamp_min(1e-5).pow(1.0 - alpha)).clamp_min(1e-5);
  return at::where(a > 0, s, at::ones_like(s));
}

std::vector<SmoothedGroup> apply_smoothquant(Model& model, double alpha, const BatchSource& batches, const Progress& progress) {
  std::vector<BlockScaleGroup> groups;
  for (int64_t b = 0; b < model.num_blocks(); ++b)
    for (auto& g : block_scale_groups(model, b))
      if (g.smoothquant) groups.push_back(std::move(g));
  QUENCH_CHECK(!groups.empty(), "smoothquant: no norm → linear pairs are known for ", model.architecture());
  std::string points;
  for (const auto& g : groups) points += (points.empty() ? "" : ",") + g.layers.front()->input_point();
  CalibrationOptions co;
  co.points = points;
  co.weights = false;
  co.histogram_bins = 2;  // only the per-channel maxima are needed
  const CalibrationResult cal = calibrate(model, batches, co, progress);
  std::vector<SmoothedGroup> out;
  for (const auto& g : groups) {
    const ActivationStats* st = cal.point(g.layers.front()->input_point());
    QUENCH_CHECK(st, "smoothquant: point ", g.layers.front()->input_point(), " was not reached by the calibration data");
    const at::Tensor a = at::tensor(st->channel_absmax, at::kDouble).to(at::kFloat);
    std::vector<at::Tensor> ws;
    for (const Layer* l : g.layers) ws.push_back(l->weight());
    const at::Tensor s = smoothquant_scales(a, ws, alpha);
    fold_scale(model, g, s);
    SmoothedGroup r;
    r.prev = g.prev_weight;
    for (const Layer* l : g.layers) r.layers.push_back(l->name());
    r.min_scale = s.min().item<double>();
    r.max_scale = s.max().item<double>();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace quench
