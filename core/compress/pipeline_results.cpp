#include "core/compress/act_quant.h"
#include "core/compress/pipeline.h"
#include "core/compress/weight_view.h"
#include "core/util/error.h"

namespace quench::pipeline {

std::map<std::string, PointTransforms::Probe> Pipeline::measure_probes() {
  std::map<std::string, PointTransforms::Probe> probes;
  for (auto& sp : states_) {
    LayerState* s = sp.get();
    if (s->layer->kind() == LayerKind::Embedding) continue;  // its input is ids: weight error only
    s->ref_bias = s->layer->bias().defined() ? s->layer->bias().to(at::kFloat) : at::Tensor();
    const int64_t cd = channel_dim_of(s->layer->kind());
    // ref_weight is a float copy, or (streamed) the stored original in its own dtype: through the
    // compute dtype, both give the weight the layer had before its step.
    probes[s->layer->input_point()] = [s, cd, dt = model_.dtype()](const at::Tensor& x) {
      const at::Tensor xf = x.to(at::kFloat);
      const at::Tensor ref = s->layer->apply(xf, s->ref_weight.to(xf.device(), dt).to(at::kFloat), s->ref_bias);
      at::Tensor xq = s->plan->input ? act_fake_quant(x, *s->plan->input, s->in_params, cd) : x;
      at::Tensor y = s->layer->compute(xq).to(at::kFloat);
      if (s->plan->output) y = act_fake_quant(y, *s->plan->output, s->out_params, cd);
      s->output_err.add(y, ref);
    };
  }
  for (const auto& p : plan_.points) {
    ErrorAccumulator* acc = &point_err_[p.point];
    const ActQuant a = p.act;
    const ops::QuantParams params = point_params_[p.point];
    probes[p.point] = [acc, a, params](const at::Tensor& x) { acc->add(act_fake_quant(x, a, params, -1), x); };
  }
  for (const auto& k : plan_.kv) {
    ErrorAccumulator* acc = &kv_err_[k.module];
    const auto sc = kv_scales_.count(k.module) ? kv_scales_.at(k.module) : std::pair<double, double>{0, 0};
    const auto zip = zip_.count(k.module) ? zip_.at(k.module) : nullptr;
    probes[k.k_point] = [acc, f = kv_transform(k, true, sc.first, zip)](const at::Tensor& x) { acc->add(f(x), x); };
    probes[k.v_point] = [acc, f = kv_transform(k, false, sc.second, zip)](const at::Tensor& x) { acc->add(f(x), x); };
  }
  return probes;
}

void Pipeline::measure() {
  if (calib_.empty() || opts_.measure_samples <= 0) return;
  step("measuring per-layer errors");
  const auto probes = measure_probes();
  transforms_.install(model_.hooks(), probes, "quant");
  try {
    at::NoGradGuard ng;
    for (const auto& b : calib_.first(opts_.measure_samples)) model_.forward(b);
  } catch (...) {
    transforms_.install(model_.hooks());
    throw;
  }
  transforms_.install(model_.hooks());
  ++steps_done_;
}

CompressResult Pipeline::results() {
  CompressResult r;
  r.size = estimate_size(model_, plan_);
  std::map<std::string, const LayerSize*> sizes;
  for (const auto& l : r.size.layers) sizes[l.layer] = &l;
  auto reshaped = [](const Layer& l) {
    return l.weight().sizes() != l.original_weight().sizes() || l.bias().defined() != l.original_bias().defined();
  };
  auto bias_of = [](const at::Tensor& b) { return b.defined() ? b.numel() : int64_t{0}; };
  for (const auto& lp : model_.layers()) {
    const Layer& l = *lp;
    if (by_layer_.count(&l) || !reshaped(l)) continue;
    // Only structured pruning touched this layer: a smaller float weight, no error measured.
    LayerResult lr;
    lr.layer = l.name();
    lr.kind = layer_kind_name(l.kind());
    lr.settings = {{"structured", plan_.structured ? plan_.structured->to_json() : nlohmann::json()}, {"sources", {"structured"}},
                   {"shape", l.weight().sizes().vec()}};
    lr.bits = sizes.count(lr.layer) ? sizes.at(lr.layer)->bits_per_weight() : 16.0;
    lr.params_before = l.original_weight().numel() + bias_of(l.original_bias());
    lr.params_after = l.weight().numel() + bias_of(l.bias());
    r.layers.push_back(std::move(lr));
  }
  for (auto& s : states_) {
    if (s->plan->input && !s->plan->input->dynamic) r.static_inputs[s->layer->name()] = s->in_params;
    LayerResult lr;
    lr.layer = s->layer->name();
    lr.kind = layer_kind_name(s->layer->kind());
    lr.settings = s->plan->to_json();
    if (!s->details.empty()) lr.settings["details"] = s->details;
    if (reshaped(*s->layer)) {
      lr.settings["structured"] = plan_.structured ? plan_.structured->to_json() : nlohmann::json();
      lr.settings["shape"] = s->layer->weight().sizes().vec();
    }
    lr.bits = sizes.count(lr.layer) ? sizes.at(lr.layer)->bits_per_weight() : 16.0;
    const int64_t bias = s->layer->original_bias().defined() ? s->layer->original_bias().numel() : 0;
    lr.params_before = s->layer->original_weight().numel() + bias;
    lr.params_after = s->layer->parameters();  // the kernel's factors, or the weight
    if (s->kept >= 0) {
      const int64_t kept = s->kept;
      lr.params_after = kept + bias_of(s->layer->bias());
      lr.sparsity = 1.0 - static_cast<double>(kept) / static_cast<double>(s->layer->weight().numel());
    }
    if (s->rank > 0) lr.rank = s->rank;
    lr.weight_rel_mse = s->weight_err.rel_mse();
    lr.weight_sqnr_db = s->weight_err.sqnr_db();
    lr.output_rel_mse = s->output_err.rel_mse();
    lr.output_sqnr_db = s->output_err.sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  for (const auto& k : plan_.kv) {
    LayerResult lr;
    lr.layer = k.module;
    lr.kind = "kv_cache";
    lr.settings = {{"kv_cache", k.kv.to_json()}, {"sources", {k.source}}};
    lr.bits = k.kv.bits_per_element();
    if (const auto it = kv_scales_.find(k.module); it != kv_scales_.end()) {
      lr.settings["details"] = {{"k_scale", it->second.first}, {"v_scale", it->second.second}};
      r.kv_scales[k.module] = it->second;
    }
    lr.output_rel_mse = kv_err_[k.module].rel_mse();
    lr.output_sqnr_db = kv_err_[k.module].sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  for (const auto& p : plan_.points) {
    LayerResult lr;
    lr.layer = p.point;
    lr.kind = "activation";
    lr.settings = {{"activations", p.act.to_json()}, {"sources", {p.source}}};
    const at::Tensor& scale = point_params_[p.point].scale;
    if (!p.act.dynamic && scale.defined() && scale.numel() == 1) lr.settings["details"] = {{"scale", scale.item<double>()}};
    if (const auto g = point_groups_.find(p.point); g != point_groups_.end() && scale.defined())
      lr.settings["details"] = {{"scale_groups", g->second.max().item<int64_t>() + 1},
                                {"min_scale", scale.min().item<double>()},
                                {"max_scale", scale.max().item<double>()}};
    lr.bits = p.act.bits;
    lr.output_rel_mse = point_err_[p.point].rel_mse();
    lr.output_sqnr_db = point_err_[p.point].sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  r.warnings = plan_.warnings;
  r.warnings.insert(r.warnings.end(), warnings_.begin(), warnings_.end());
  r.details = details_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  return r;
}

}  // namespace quench::pipeline
