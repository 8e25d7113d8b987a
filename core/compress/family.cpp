#include "core/compress/family.h"

#include <set>

#include "core/models/registry.h"
#include "core/util/error.h"

namespace quench {

std::string head_layer(const Model& model) {
  if (const Structure* f = structure_of(model.architecture()))
    if (model.find_layer(f->head)) return f->head;
  if (model.layers().empty()) return "";
  const std::string& last = model.layers().back()->name();
  if (last == "lm_head" || last.rfind("classifier", 0) == 0) return last;
  return "";
}

std::vector<BlockScaleGroup> block_scale_groups(const Model& model, int64_t block) {
  std::vector<BlockScaleGroup> out;
  const Structure* f = structure_of(model.architecture());
  if (!f) return out;
  const std::string p = model.block_name(block) + ".";
  auto& params = model.params();
  for (const auto& g : f->groups) {
    BlockScaleGroup b;
    b.prev_kind = g.prev_kind;
    b.smoothquant = g.smoothquant;
    int64_t channels = -1;
    if (g.prev_kind == ScaleGroup::Prev::LinearRows) {
      Layer* prev = model.find_layer(p + g.prev);
      if (!prev || prev->kind() != LayerKind::Linear) continue;
      b.prev_weight = prev->name();
      channels = prev->out_features();
    } else {
      b.prev_weight = p + g.prev + ".weight";
      if (!params.count(b.prev_weight)) continue;
      channels = params.at(b.prev_weight).numel();
      if (g.prev_kind == ScaleGroup::Prev::LayerNorm) {
        b.prev_bias = p + g.prev + ".bias";
        if (!params.count(b.prev_bias)) continue;
      }
    }
    bool ok = true;
    for (const auto& name : g.layers) {
      Layer* l = model.find_layer(p + name);
      ok = ok && l && l->kind() == LayerKind::Linear && l->in_features() == channels;
      if (ok) b.layers.push_back(l);
    }
    if (ok) out.push_back(std::move(b));
  }
  return out;
}

std::vector<std::vector<Layer*>> block_stages(const Model& model, int64_t block) {
  const auto layers = model.block_layers(block);
  std::vector<std::vector<Layer*>> out;
  std::set<const Layer*> placed;
  if (const Structure* f = structure_of(model.architecture())) {
    const std::string p = model.block_name(block) + ".";
    for (const auto& stage : f->stages) {
      std::vector<Layer*> s;
      for (const auto& name : stage)
        if (Layer* l = model.find_layer(p + name)) s.push_back(l);
      for (auto* l : s) placed.insert(l);
      if (!s.empty()) out.push_back(std::move(s));
    }
  }
  for (Layer* l : layers)
    if (!placed.count(l)) out.push_back({l});
  return out;
}

namespace {
// Whether `layer` is some block's `relative` module ("model.layers.3." + "self_attn.k_proj").
bool names_any(const std::string& layer, const std::vector<std::string>& relative) {
  for (const auto& n : relative) {
    const std::string suffix = "." + n;
    if (layer.size() > suffix.size() && layer.compare(layer.size() - suffix.size(), suffix.size(), suffix) == 0) return true;
  }
  return false;
}
}  // namespace

bool awq_no_clip(const Model& model, const Layer& layer) {
  const Structure* f = structure_of(model.architecture());
  return f && names_any(layer.name(), f->no_clip);
}

bool is_kv_projection(const Model& model, const std::string& layer) {
  const Structure* f = structure_of(model.architecture());
  return f && names_any(layer, f->kv_projections);
}

void fold_scale(Model& model, const BlockScaleGroup& g, const at::Tensor& s_in) {
  const at::Tensor s = s_in.to(at::kFloat).reshape({-1});
  if (g.prev_kind == ScaleGroup::Prev::LinearRows) {
    Layer& prev = model.layer(g.prev_weight);
    const auto sp = s.to(prev.weight().device());
    prev.set_weight(prev.weight().to(at::kFloat) / sp.unsqueeze(1));
    if (prev.bias().defined()) prev.set_bias(prev.bias().to(at::kFloat) / sp);
  } else {
    const at::Tensor& w = model.param(g.prev_weight);
    model.set_param(g.prev_weight, w.to(at::kFloat) / s.to(w.device()));
    if (!g.prev_bias.empty()) {
      const at::Tensor& b = model.param(g.prev_bias);
      model.set_param(g.prev_bias, b.to(at::kFloat) / s.to(b.device()));
    }
  }
  for (Layer* l : g.layers) l->set_weight(l->weight().to(at::kFloat) * s.to(l->weight().device()).unsqueeze(0));
}

}  // namespace quench
