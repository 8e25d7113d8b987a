#include "core/compress/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/compress/family.h"
#include "core/compress/weight_view.h"
#include "core/models/model.h"
#include "core/nn/hooks.h"
#include "core/compress/rtn.h"
#include "core/compress/weight_method.h"
#include "core/util/error.h"

namespace quench {

std::vector<double> awq_clip_ratios() {
  std::vector<double> r;
  for (int i = 0; i < 10; ++i) r.push_back(1.0 - i / 20.0);
  return r;
}

AwqScale awq_search_scale(const at::Tensor& x_absmean, int grid, const std::function<double(const at::Tensor& s)>& loss) {
  QUENCH_CHECK(grid >= 1, "awq_search_scale: grid must be ≥ 1");
  const at::Tensor xm = x_absmean.to(at::kFloat).reshape({-1});
  AwqScale best;
  best.loss = std::numeric_limits<double>::infinity();
  for (int i = 0; i < grid; ++i) {
    const double r = static_cast<double>(i) / grid;
    at::Tensor s = xm.pow(r).clamp_min(1e-4);
    s = s / std::sqrt(s.max().item<double>() * s.min().item<double>());
    const double l = loss(s);
    if (i == 0) best.loss_plain = l;
    if (std::isfinite(l) && l < best.loss) {
      best.loss = l;
      best.ratio = r;
      best.scale = s;
    }
  }
  QUENCH_CHECK(best.scale.defined(), "awq_search_scale: every candidate scale gave a non-finite loss");
  return best;
}

ops::QuantParams awq_search_clip(const at::Tensor& w2d, const at::Tensor& x_in, const WeightQuant& setting, double* mean_clip,
                                 int64_t max_tokens) {
  const int64_t out = w2d.size(0), in = w2d.size(1);
  at::Tensor x = x_in.reshape({-1, in}).to(w2d.device(), at::kFloat);
  if (x.size(0) > max_tokens) x = x.narrow(0, 0, max_tokens);  // callers pass windows in random order
  const ops::QuantSpec spec = setting.spec();
  const int64_t g = spec.granularity == ops::Granularity::Group ? spec.group_size : in;
  const int64_t G = in / g;
  const at::Tensor xg = x.view({x.size(0), G, g});  // [n, G, g]
  auto error = [&](const at::Tensor& wq) {
    const at::Tensor d = (wq - w2d).view({out, G, g});
    // per (row, group): Σ_t (Σ_k d[o,G,k]·x[t,G,k])²
    const at::Tensor y = at::einsum("ogk,ngk->ogn", {d, xg});
    const at::Tensor e = y.pow(2).sum(-1);  // [out, G]
    switch (spec.granularity) {
      case ops::Granularity::Tensor: return e.sum().reshape({1});
      case ops::Granularity::Row: return e.sum(1);
      default: return e.reshape({-1});
    }
  };
  at::Tensor chosen;
  auto p = search_clip(w2d, spec, awq_clip_ratios(), error, &chosen);
  if (mean_clip) *mean_clip = chosen.mean().item<double>();
  return p;
}

namespace {

// AWQ's scale search over a block: per scale group (a preceding op and the linears reading it) with
// an AWQ layer, the scale that minimizes the block output's MSE with that group's AWQ layers
// quantized, folded into the group.
void awq_block_scales(BlockMethodCall& c) {
  Model& model = c.model;
  std::vector<BlockScaleGroup> groups;
  for (auto& g : block_scale_groups(model, c.block))
    if (std::any_of(g.layers.begin(), g.layers.end(), [&](const Layer* l) { return c.setting_of(l) != nullptr; })) groups.push_back(std::move(g));
  if (groups.empty()) return;
  // Folding is exact in float, so one capture of the float block serves every group: each group's
  // fold changes only its own readers' input (÷ s), which the search accounts for.
  std::map<std::string, std::vector<at::Tensor>> inputs;
  std::set<std::string> wanted;
  for (const auto& g : groups) wanted.insert(g.layers.front()->input_point());
  std::vector<at::Tensor> ref;
  {
    auto obs = std::make_shared<FunctionObserver>([&](const std::string& p, const at::Tensor& t, int64_t) {
      if (wanted.count(p)) inputs[p].push_back(t.detach().reshape({-1, t.size(-1)}).to(at::kFloat));
    });
    ScopedObserver scoped(model.hooks(), obs);
    for (const auto& h : c.inputs) ref.push_back(model.block(c.block, h));
  }
  for (const auto& g : groups) {
    std::vector<Layer*> awq_layers;
    for (Layer* l : g.layers)
      if (c.setting_of(l)) awq_layers.push_back(l);
    const std::string point = g.layers.front()->input_point();
    QUENCH_CHECK(inputs.count(point), g.layers.front()->name(), ": AWQ saw no calibration inputs");
    const at::Tensor xmean = at::cat(inputs.at(point), 0).abs().mean(0);
    std::vector<at::Tensor> w0;
    for (Layer* l : awq_layers) w0.push_back(l->weight());
    // Loss: MSE of the block's output with only this group's AWQ layers quantized.
    auto loss = [&](const at::Tensor& s) {
      for (size_t k = 0; k < awq_layers.size(); ++k) {
        const at::Tensor w = weight_2d(w0[k]) * s.unsqueeze(0);
        const at::Tensor wq = rtn_quantize(w, *c.setting_of(awq_layers[k]));  // min–max ranges: an AWQ setting has no clip
        awq_layers[k]->set_weight(weight_like(wq / s.unsqueeze(0), w0[k]));
      }
      double num = 0, den = 0;
      for (size_t j = 0; j < c.inputs.size(); ++j) {
        const at::Tensor out = model.block(c.block, c.inputs[j]);
        num += (out - ref[j]).to(at::kDouble).pow(2).sum().item<double>();
        den += static_cast<double>(out.numel());
      }
      for (size_t k = 0; k < awq_layers.size(); ++k) awq_layers[k]->set_weight(w0[k]);
      return num / den;
    };
    const AwqScale best = awq_search_scale(xmean, static_cast<int>(c.setting_of(awq_layers.front())->integer("grid")), loss);
    fold_scale(model, g, best.scale);
    for (Layer* l : g.layers) {
      c.mark_folded(l);
      c.record(l, "awq_ratio", best.ratio);
      c.record(l, "awq_loss", best.loss);
      c.record(l, "awq_loss_unscaled", best.loss_plain);
    }
  }
}

}  // namespace

QUENCH_WEIGHT_METHOD(awq_method, 30) {
  static const WeightMethodInfo m{
      "awq", "AWQ", MethodData::InputRows,
      {MethodOption::integer("grid", 20, 1, 1000, "AWQ grid", "AWQ: scale exponents tried between 0 and 1"),
       MethodOption::flag("clip_search", true, "clip search after scaling", "AWQ: a clip ratio per group chosen on the layer's output error")},
      [](const WeightQuant&, int64_t, int64_t, double slots) { return slots * 16.0; },
      "",
      // The block's scales are folded already (awq_block_scales, run before the block); the clip search runs on the
      // scaled inputs.
      [](WeightMethodCall& c) {
        const WeightQuant& w = c.setting;
        if (!c.scale_folded) c.details["awq_scale"] = "none (no foldable preceding op)";
        if (w.flag("clip_search") && !awq_no_clip(c.model, c.layer) && !w.ggml) {
          double mean_clip = 1;
          auto e = std::make_shared<WeightEncoding>();
          e->spec = w.spec();
          e->params = awq_search_clip(c.weight, c.input_rows(), w, &mean_clip, c.clip_tokens);
          c.details["mean_clip"] = mean_clip;
          c.weight = ops::fake_quant(c.weight, e->params, *e->spec);
          c.encoding = std::move(e);
          return;
        }
        // On a ggml grid the clip search is not run: its output-error search is written for Quench's integer grid.
        if (w.ggml && w.flag("clip_search")) c.details["awq_clip"] = "not searched on a ggml grid";
        RtnInfo info;
        c.weight = rtn_quantize(c.weight, w, &info);  // min–max ranges
        c.encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
      },
      awq_block_scales};
  return m;
}

}  // namespace quench
