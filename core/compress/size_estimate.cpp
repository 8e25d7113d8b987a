#include "core/compress/size_estimate.h"

#include <cmath>
#include <map>
#include <set>

#include "core/compress/lowrank_method.h"
#include "core/compress/wanda.h"
#include "core/compress/weight_method.h"
#include "core/compress/weight_view.h"
#include "core/store/metrics.h"

namespace quench {

double quantized_weight_bits(const WeightQuant& w, int64_t out, int64_t in) {
  const double n = static_cast<double>(out) * static_cast<double>(in);
  if (w.ggml) return n * w.ggml_bits_per_weight();  // the block holds its scales (Q4_0: 18 bytes per 32 values)
  double slots = 1;
  if (w.strategy == WeightStrategy::Channel) slots = static_cast<double>(out);
  if (w.strategy == WeightStrategy::Group) slots = static_cast<double>(out) * std::ceil(static_cast<double>(in) / static_cast<double>(w.group_size));
  double bits = n * w.bits + weight_method(w.method).extra_bits(w, out, in, slots);
  if (!w.symmetric) bits += slots * w.bits;
  return bits;
}

namespace {

// The storage of one compressed layer's weight (bits) and the values it keeps.
void compressed_weight(const LayerPlan& p, const at::Tensor& weight, int64_t head_dim, LayerSize& s) {
  const int64_t out = weight.size(0), in = weight.numel() / std::max<int64_t>(1, weight.size(0));
  const double n = static_cast<double>(out) * static_cast<double>(in);
  if (p.lowrank) {
    int64_t r = p.lowrank->rank_for(out, in);
    if (r == 0) r = rank_for_energy(at::linalg_svdvals(weight_2d(weight).to(at::kDouble)), p.lowrank->energy);
    s.rank = r;
    // A block-diagonal A (Palu's head groups) holds only each block's own share of the rank.
    const auto block_rows = lowrank_method(p.lowrank->method).a_block_rows;
    const int64_t a_rows = block_rows && block_rows(*p.lowrank, head_dim) > 0 ? block_rows(*p.lowrank, head_dim) : out;
    s.stored = r * (a_rows + in);
    s.bits = p.weights ? quantized_weight_bits(factor_a_setting(*p.weights, r), a_rows, r) + quantized_weight_bits(*p.weights, r, in)
                       : 16.0 * static_cast<double>(s.stored);
    return;
  }
  const int64_t pruned = p.prune ? pruned_weights(*p.prune, out, in) : 0;
  s.stored = out * in - pruned;
  const double kept = static_cast<double>(s.stored);
  if (p.weights && p.weights->ggml) {  // GGUF blocks are dense: pruned values are stored zeros
    s.bits = quantized_weight_bits(*p.weights, out, in);
    return;
  }
  s.bits = p.weights ? quantized_weight_bits(*p.weights, out, in) - (n - kept) * p.weights->bits : 16.0 * kept;
  if (p.prune) {
    const PruneSetting& ps = *p.prune;
    if (ps.nm() && ps.n < ps.m) s.bits += std::min(n, kept * std::ceil(std::log2(static_cast<double>(ps.m))));
    else if (!ps.nm() && pruned > 0) s.bits += n;
  }
}

}  // namespace

nlohmann::json SizeEstimate::to_json() const {
  nlohmann::json j = {{"bytes", bytes},
                      {"original_bytes", original_bytes},
                      {metric_names::kCompression, compression()},
                      {metric_names::kBitsPerWeight, bits_per_weight},
                      {metric_names::kQuantizedBitsPerWeight, quantized_bits_per_weight},
                      {"quantized_weights", quantized_weights},
                      {metric_names::kKvBitsPerElement, kv_bits_per_element},
                      {"stored_params", stored_params},
                      {"original_params", original_params}};
  j["layers"] = nlohmann::json::object();
  for (const auto& l : layers) {
    auto& lj = j["layers"][l.layer];
    lj = {{"weights", l.weights}, {"stored", l.stored}, {"bits", l.bits}, {"bits_per_weight", l.bits_per_weight()}};
    if (l.rank) lj["rank"] = l.rank;
  }
  return j;
}

SizeEstimate estimate_size(const Model& model, const ResolvedRecipe& plan) {
  SizeEstimate e;
  double total_bits = 0, original_bits = 0;
  double layer_bits = 0, layer_weights = 0, q_bits = 0, q_weights = 0;
  // Shared storage: counted once at 16 bits while every user keeps it.
  std::map<const void*, bool> shared_kept_counted;
  std::set<const void*> seen_bias, seen_bias_now;
  for (const auto& lp : model.layers()) {
    const Layer& l = *lp;
    const LayerPlan* p = plan.find(l.name());
    LayerSize s;
    s.layer = l.name();
    const at::Tensor& w = l.original_weight();
    s.weights = w.numel();
    const void* key = w.unsafeGetTensorImpl();
    const bool first_use = !shared_kept_counted.count(key);
    if (first_use) {
      original_bits += 16.0 * static_cast<double>(s.weights);
      e.original_params += s.weights;
    }
    // After structured pruning the layer stores its smaller weight; `weights` stays the original
    // count, so bits per weight fall with the removed rows and columns.
    const at::Tensor& now = l.weight();
    const bool shrunk = now.sizes() != w.sizes();
    if (p && (p->weights || p->prune || p->lowrank)) {
      s.quantized = p->weights.has_value();
      s.compressed = true;
      compressed_weight(*p, shrunk ? now : w, model.attention_head_dim(), s);
      total_bits += s.bits;
      layer_bits += s.bits;
      layer_weights += static_cast<double>(s.weights);
      e.stored_params += s.stored;
      if (s.quantized) {
        q_bits += s.bits;
        q_weights += static_cast<double>(s.weights);
      }
      if (first_use) shared_kept_counted[key] = false;
    } else {
      s.compressed = shrunk;
      s.stored = now.numel();
      s.bits = 16.0 * static_cast<double>(s.stored);
      auto it = shared_kept_counted.find(key);
      if (it == shared_kept_counted.end() || !it->second) {
        total_bits += s.bits;
        layer_bits += s.bits;
        layer_weights += static_cast<double>(s.weights);
        e.stored_params += s.stored;
        shared_kept_counted[key] = true;
      }
    }
    if (l.original_bias().defined() && seen_bias.insert(l.original_bias().unsafeGetTensorImpl()).second) {
      original_bits += 16.0 * static_cast<double>(l.original_bias().numel());
      e.original_params += l.original_bias().numel();
    }
    // The bias as stored now: structured pruning shortens it or adds one (bias compensation).
    if (l.bias().defined() && seen_bias_now.insert(l.bias().unsafeGetTensorImpl()).second) {
      total_bits += 16.0 * static_cast<double>(l.bias().numel());
      e.stored_params += l.bias().numel();
    }
    e.layers.push_back(s);
  }
  std::set<const void*> seen;
  for (const auto& [name, t] : model.params()) {
    if (!seen.insert(t.unsafeGetTensorImpl()).second) continue;
    total_bits += 16.0 * static_cast<double>(t.numel());
    original_bits += 16.0 * static_cast<double>(t.numel());
    e.stored_params += t.numel();
    e.original_params += t.numel();
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
