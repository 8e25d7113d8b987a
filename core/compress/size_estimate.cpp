#include "core/compress/size_estimate.h"

#include <cmath>
#include <map>
#include <set>

namespace quench {

double quantized_weight_bits(const WeightQuant& w, int64_t out, int64_t in) {
  const double n = static_cast<double>(out) * static_cast<double>(in);
  double slots = 1;
  if (w.strategy == WeightStrategy::Channel) slots = static_cast<double>(out);
  if (w.strategy == WeightStrategy::Group) slots = static_cast<double>(out) * std::ceil(static_cast<double>(in) / static_cast<double>(w.group_size));
  double bits = n * w.bits + slots * 16.0;
  if (!w.symmetric) bits += slots * w.bits;
  if (w.method == WeightMethod::Gptq && w.act_order && w.strategy == WeightStrategy::Group) bits += 32.0 * static_cast<double>(in);
  return bits;
}

nlohmann::json SizeEstimate::to_json() const {
  nlohmann::json j = {{"bytes", bytes},
                      {"original_bytes", original_bytes},
                      {"compression", compression()},
                      {"bits_per_weight", bits_per_weight},
                      {"quantized_bits_per_weight", quantized_bits_per_weight},
                      {"quantized_weights", quantized_weights},
                      {"kv_bits_per_element", kv_bits_per_element}};
  j["layers"] = nlohmann::json::object();
  for (const auto& l : layers) j["layers"][l.layer] = {{"weights", l.weights}, {"bits", l.bits}, {"bits_per_weight", l.bits_per_weight()}};
  return j;
}

SizeEstimate estimate_size(const Model& model, const ResolvedRecipe& plan) {
  SizeEstimate e;
  double total_bits = 0, original_bits = 0;
  double layer_bits = 0, layer_weights = 0, q_bits = 0, q_weights = 0;
  // Shared storage: counted once at 16 bits while every user keeps it.
  std::map<const void*, bool> shared_kept_counted;
  std::set<const void*> seen_bias;
  for (const auto& lp : model.layers()) {
    const Layer& l = *lp;
    const LayerPlan* p = plan.find(l.name());
    LayerSize s;
    s.layer = l.name();
    const at::Tensor& w = l.original_weight();
    s.weights = w.numel();
    const int64_t out = w.size(0), in = w.numel() / std::max<int64_t>(1, w.size(0));
    const void* key = w.unsafeGetTensorImpl();
    const bool first_use = !shared_kept_counted.count(key);
    if (first_use) original_bits += 16.0 * static_cast<double>(s.weights);
    if (p && p->weights) {
      s.quantized = true;
      s.bits = quantized_weight_bits(*p->weights, out, in);
      total_bits += s.bits;
      layer_bits += s.bits;
      layer_weights += static_cast<double>(s.weights);
      q_bits += s.bits;
      q_weights += static_cast<double>(s.weights);
      if (first_use) shared_kept_counted[key] = false;
    } else {
      s.bits = 16.0 * static_cast<double>(s.weights);
      auto it = shared_kept_counted.find(key);
      if (it == shared_kept_counted.end() || !it->second) {
        total_bits += s.bits;
        layer_bits += s.bits;
        layer_weights += static_cast<double>(s.weights);
        shared_kept_counted[key] = true;
      }
    }
    if (l.original_bias().defined() && seen_bias.insert(l.original_bias().unsafeGetTensorImpl()).second) {
      total_bits += 16.0 * static_cast<double>(l.original_bias().numel());
      original_bits += 16.0 * static_cast<double>(l.original_bias().numel());
    }
    e.layers.push_back(s);
  }
  std::set<const void*> seen;
  for (const auto& [name, t] : model.params()) {
    if (!seen.insert(t.unsafeGetTensorImpl()).second) continue;
    total_bits += 16.0 * static_cast<double>(t.numel());
    original_bits += 16.0 * static_cast<double>(t.numel());
  }
  int64_t static_scales = static_cast<int64_t>(plan.points.size());
  for (const auto& l : plan.layers) {
    static_scales += (l.input && !l.input->dynamic) ? 1 : 0;
    static_scales += (l.output && !l.output->dynamic) ? 1 : 0;
  }
  total_bits += 16.0 * static_cast<double>(static_scales);
  e.bytes = static_cast<int64_t>(std::ceil(total_bits / 8.0));
  e.original_bytes = static_cast<int64_t>(std::ceil(original_bits / 8.0));
  e.bits_per_weight = layer_weights > 0 ? layer_bits / layer_weights : 16.0;
  e.quantized_bits_per_weight = q_weights > 0 ? q_bits / q_weights : 16.0;
  e.quantized_weights = static_cast<int64_t>(q_weights);
  int64_t modules = 0;
  for (const auto& p : model.points())
    if (p.name.size() > 2 && p.name.compare(p.name.size() - 2, 2, ":k") == 0) ++modules;
  if (modules > 0) {
    double sum = 16.0 * static_cast<double>(modules - static_cast<int64_t>(plan.kv.size()));
    for (const auto& k : plan.kv) sum += k.kv.bits_per_element();
    e.kv_bits_per_element = sum / static_cast<double>(modules);
  }
  return e;
}

}  // namespace quench
