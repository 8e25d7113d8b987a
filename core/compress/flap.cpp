#include "core/compress/flap.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include "core/compress/json_fields.h"
#include "core/models/registry.h"
#include "core/util/error.h"

namespace quench {

using recipe_json::Fields;

namespace {

const char* target_name(FlapSetting::Target t) {
  switch (t) {
    case FlapSetting::Target::Mlp: return "mlp";
    case FlapSetting::Target::Heads: return "heads";
    case FlapSetting::Target::Both: return "mlp+heads";
  }
  return "?";
}

// One prunable unit: an MLP channel or an attention head group, with its score and its cost in
// parameters (what removing it saves).
struct Unit {
  int64_t block = 0, index = 0;
  bool head = false;
  double score = 0;
  double cost = 0;
};

at::Tensor to_f32(const std::vector<double>& v) { return at::tensor(v, at::kDouble).to(at::kFloat); }

// (x − mean) / std over all entries; a constant vector becomes zeros.
at::Tensor standardize(const at::Tensor& x) {
  const at::Tensor c = x - x.mean();
  const double sd = x.numel() > 1 ? x.std().item<double>() : 0.0;
  return sd > 0 ? c / sd : c;
}

struct BlockInputs {
  at::Tensor mlp_mean, mlp_var;    // F32 [inter]
  at::Tensor attn_mean, attn_var;  // F32 [heads·head_dim]
};

void fill_from(const ActivationStats* st, const std::string& point, at::Tensor& mean, at::Tensor& var) {
  QUENCH_CHECK(st, "flap: point ", point, " was not reached by the calibration data");
  mean = to_f32(st->channel_mean);
  var = to_f32(st->channel_std).pow(2);
}

}  // namespace

nlohmann::json FlapSetting::to_json() const {
  return {{"method", "flap"},
          {"ratio", ratio},
          {"target", target_name(target)},
          {"adaptive", adaptive},
          {"metric", metric == Metric::Wifv ? "wifv" : "weight"},
          {"bias_compensation", bias_compensation},
          {"align", align}};
}

std::string FlapSetting::describe() const {
  std::ostringstream os;
  os << "flap " << ratio * 100 << "% of " << (target == Target::Mlp ? "MLP channels" : target == Target::Heads ? "attention heads" : "MLP channels and heads")
     << (adaptive ? " (adaptive)" : " (uniform)");
  return os.str();
}

FlapSetting parse_flap(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) throw RecipeError(key, "", key + ": must be an object, got " + recipe_json::type_name(j));
  Fields f(j, key);
  f.only({"method", "ratio", "target", "adaptive", "metric", "bias_compensation", "align"});
  if (!f.has("method")) f.fail_at("method", "structured pruning needs a method (\"flap\")");
  f.get_choice("method", "flap", {"flap"});
  if (!f.has("ratio")) f.fail_at("ratio", "structured pruning needs a ratio (the fraction of the targeted parameters removed, e.g. 0.2)");
  FlapSetting s;
  s.ratio = f.get_double("ratio", 0.2, 0.0, 1.0, true);
  if (s.ratio >= 1.0) f.fail_at("ratio", j["ratio"].dump() + " must be below 1 (the fraction of the targeted parameters removed)");
  const std::string t = f.get_choice("target", "mlp", {"mlp", "heads", "mlp+heads"});
  s.target = t == "heads" ? FlapSetting::Target::Heads : t == "mlp+heads" ? FlapSetting::Target::Both : FlapSetting::Target::Mlp;
  s.adaptive = f.get_bool("adaptive", true);
  s.metric = f.get_choice("metric", "wifv", {"wifv", "weight"}) == "weight" ? FlapSetting::Metric::Weight : FlapSetting::Metric::Wifv;
  s.bias_compensation = f.get_bool("bias_compensation", true);
  s.align = f.get_int64("align", 1, 1);
  return s;
}

std::string flap_unsupported_reason(const Model& model) {
  const Structure* st = structure_of(model.architecture());
  if (!st || !st->prunable)
    return "structured pruning (FLAP) removes MLP channels and attention heads of " +
           families_where([](const Structure& s) { return s.prunable.has_value(); }) + " models; " + model.architecture() + " is not supported";
  return "";
}

FlapBlock flap_block(const Model& model, int64_t block) {
  const std::string p = model.block_name(block) + ".";
  const Structure* st = structure_of(model.architecture());
  QUENCH_CHECK(st && st->prunable, flap_unsupported_reason(model));
  const AttentionMlpRoles& r = *st->prunable;
  FlapBlock b;
  b.gate = &model.layer(p + r.gate);
  b.up = &model.layer(p + r.up);
  b.down = &model.layer(p + r.down);
  b.q = &model.layer(p + r.q);
  b.k = &model.layer(p + r.k);
  b.v = &model.layer(p + r.v);
  b.o = &model.layer(p + r.o);
  b.head_dim = model.attention_head_dim();
  QUENCH_CHECK(b.head_dim > 0, model.architecture(), " declares attention roles but no head size");
  return b;
}

void drop_input_columns(Layer& layer, const at::Tensor& keep, const at::Tensor& mean) {
  QUENCH_CHECK(layer.kind() == LayerKind::Linear, layer.name(), ": structured pruning drops inputs of Linear layers only");
  const at::Tensor w = layer.weight();
  const at::Tensor idx = keep.to(w.device(), at::kLong);
  if (mean.defined()) {
    at::Tensor dropped = at::ones({w.size(1)}, at::TensorOptions().dtype(at::kBool).device(w.device()));
    dropped.index_fill_(0, idx, false);
    const at::Tensor wf = w.to(at::kFloat);
    const at::Tensor m = at::where(dropped, mean.to(w.device(), at::kFloat), at::zeros_like(wf.select(0, 0)));
    at::Tensor b = at::matmul(wf, m);  // [out]: the dropped columns' mean contribution
    if (layer.bias().defined()) b = b + layer.bias().to(at::kFloat);
    layer.set_bias(b, true);
  }
  layer.set_weight(w.index_select(1, idx).contiguous(), true);
}

void keep_output_rows(Layer& layer, const at::Tensor& keep) {
  QUENCH_CHECK(layer.kind() == LayerKind::Linear, layer.name(), ": structured pruning keeps rows of Linear layers only");
  const at::Tensor idx = keep.to(layer.weight().device(), at::kLong);
  if (layer.bias().defined()) layer.set_bias(layer.bias().index_select(0, idx).contiguous(), true);
  layer.set_weight(layer.weight().index_select(0, idx).contiguous(), true);
}

nlohmann::json FlapOutcome::to_json() const {
  nlohmann::json blocks_j = nlohmann::json::array();
  for (const auto& b : blocks)
    blocks_j.push_back({{"block", b.block},
                        {"channels", {b.channels_before, b.channels_after}},
                        {"heads", {b.heads_before, b.heads_after}},
                        {"kv_heads", {b.kv_heads_before, b.kv_heads_after}}});
  return {{"params_before", params_before}, {"params_after", params_after}, {"blocks", blocks_j}};
}

FlapOutcome apply_flap(Model& model, const FlapSetting& s, const BatchSource& batches, const Progress& progress) {
  at::NoGradGuard ng;
  const std::string why = flap_unsupported_reason(model);
  QUENCH_CHECK(why.empty(), why);
  const int64_t L = model.num_blocks();
  std::vector<FlapBlock> fb;
  for (int64_t i = 0; i < L; ++i) fb.push_back(flap_block(model, i));

  // Statistics of the readers' inputs, from one pass of the model as it is.
  std::vector<BlockInputs> in(L);
  if (s.needs_data()) {
    std::string points;
    for (const auto& b : fb) {
      if (s.mlp()) points += (points.empty() ? "" : ",") + b.down->input_point();
      if (s.heads()) points += (points.empty() ? "" : ",") + b.o->input_point();
    }
    CalibrationOptions co;
    co.points = points;
    co.weights = false;
    co.histogram_bins = 2;  // only per-channel means and variances are needed
    const CalibrationResult cal = calibrate(model, batches, co, progress);
    for (int64_t i = 0; i < L; ++i) {
      if (s.mlp()) fill_from(cal.point(fb[i].down->input_point()), fb[i].down->input_point(), in[i].mlp_mean, in[i].mlp_var);
      if (s.heads()) fill_from(cal.point(fb[i].o->input_point()), fb[i].o->input_point(), in[i].attn_mean, in[i].attn_var);
    }
  }

  // Scores and costs of every unit.
  std::vector<std::vector<Unit>> mlp_units(L), head_units(L);
  for (int64_t i = 0; i < L; ++i) {
    const FlapBlock& b = fb[i];
    const int64_t hidden = b.down->out_features();
    if (s.mlp()) {
      const at::Tensor w = b.down->weight().to(at::kFloat).cpu();
      at::Tensor score = w.pow(2).sum(0);  // ‖W[:, j]‖²
      if (s.metric == FlapSetting::Metric::Wifv) score = score * in[i].mlp_var;
      if (s.adaptive) score = standardize(score);
      const auto acc = score.contiguous();
      const float* p = acc.data_ptr<float>();
      const double cost = static_cast<double>(b.gate->in_features() + b.up->in_features() + hidden);
      for (int64_t j = 0; j < acc.numel(); ++j) mlp_units[i].push_back({i, j, false, p[j], cost});
    }
    if (s.heads()) {
      const int64_t hd = b.head_dim;
      const int64_t heads = b.q->out_features() / hd, kv = b.k->out_features() / hd;
      QUENCH_CHECK(heads % kv == 0, model.block_name(i), ": ", heads, " query heads do not group over ", kv, " key/value heads");
      const int64_t g = heads / kv;  // query heads per key/value head
      const at::Tensor w = b.o->weight().to(at::kFloat).cpu();
      at::Tensor score = w.pow(2).sum(0);  // [heads·hd]
      if (s.metric == FlapSetting::Metric::Wifv) score = score * in[i].attn_var;
      // The reference squares the attention metric before standardizing it.
      if (s.adaptive) score = standardize(score.pow(2));
      const at::Tensor per_group = score.view({kv, g * hd}).mean(1);
      const double cost = static_cast<double>(g * hd * b.q->in_features() + hd * (b.k->in_features() + b.v->in_features()) + hidden * g * hd);
      for (int64_t j = 0; j < kv; ++j) head_units[i].push_back({i, j, true, per_group[j].item<double>(), cost});
    }
  }

  // Which units stay.
  std::vector<std::vector<char>> keep_mlp(L), keep_head(L);
  for (int64_t i = 0; i < L; ++i) {
    keep_mlp[i].assign(mlp_units[i].size(), 0);
    keep_head[i].assign(head_units[i].size(), 0);
  }
  auto keep_best = [](std::vector<Unit*> units, double budget, auto&& mark) {
    std::stable_sort(units.begin(), units.end(), [](const Unit* a, const Unit* b) { return a->score > b->score; });
    // Keep the best units until the kept cost is nearest to the budget (the reference's argmin).
    double cum = 0, best_gap = budget;
    size_t best = 0;
    for (size_t n = 0; n < units.size(); ++n) {
      cum += units[n]->cost;
      const double gap = std::abs(cum - budget);
      if (gap < best_gap) best_gap = gap, best = n + 1;
    }
    for (size_t n = 0; n < best; ++n) mark(*units[n]);
  };
  auto mark = [&](const Unit& u) { (u.head ? keep_head : keep_mlp)[u.block][u.index] = 1; };
  if (s.adaptive) {
    std::vector<Unit*> all;
    double total = 0;
    for (int64_t i = 0; i < L; ++i) {
      for (auto& u : mlp_units[i]) all.push_back(&u), total += u.cost;
      for (auto& u : head_units[i]) all.push_back(&u), total += u.cost;
    }
    keep_best(all, (1.0 - s.ratio) * total, mark);
  } else {
    for (int64_t i = 0; i < L; ++i)
      for (auto* units : {&mlp_units[i], &head_units[i]}) {
        std::vector<Unit*> us;
        double total = 0;
        for (auto& u : *units) us.push_back(&u), total += u.cost;
        keep_best(us, (1.0 - s.ratio) * total, mark);
      }
  }

  // Every layer keeps at least one unit, and MLP channel counts a multiple of `align` (the best
  // of the dropped ones come back first).
  auto top_up = [](std::vector<char>& keep, const std::vector<Unit>& units, int64_t want) {
    std::vector<int64_t> order(units.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return units[a].score > units[b].score; });
    int64_t kept = std::count(keep.begin(), keep.end(), 1);
    for (int64_t idx : order) {
      if (kept >= want) break;
      if (!keep[idx]) keep[idx] = 1, ++kept;
    }
  };
  for (int64_t i = 0; i < L; ++i) {
    if (!mlp_units[i].empty()) {
      const int64_t n = static_cast<int64_t>(mlp_units[i].size());
      int64_t kept = std::count(keep_mlp[i].begin(), keep_mlp[i].end(), 1);
      kept = std::min(n, std::max<int64_t>(s.align, (kept + s.align - 1) / s.align * s.align));
      top_up(keep_mlp[i], mlp_units[i], kept);
    }
    if (!head_units[i].empty()) top_up(keep_head[i], head_units[i], 1);
  }

  // Apply.
  FlapOutcome out;
  auto params = [](const Layer* l) { return l->weight().numel() + (l->bias().defined() ? l->bias().numel() : 0); };
  auto indices = [](const std::vector<char>& keep, int64_t width) {
    std::vector<int64_t> idx;
    for (size_t u = 0; u < keep.size(); ++u)
      if (keep[u])
        for (int64_t c = 0; c < width; ++c) idx.push_back(static_cast<int64_t>(u) * width + c);
    return at::tensor(idx, at::kLong);
  };
  for (int64_t i = 0; i < L; ++i) {
    const FlapBlock& b = fb[i];
    FlapLayerOutcome o;
    o.block = model.block_name(i);
    const int64_t hd = b.head_dim;
    o.channels_before = o.channels_after = b.down->in_features();
    o.heads_before = o.heads_after = b.q->out_features() / hd;
    o.kv_heads_before = o.kv_heads_after = b.k->out_features() / hd;
    if (s.mlp()) {
      out.params_before += params(b.gate) + params(b.up) + params(b.down);
      const at::Tensor keep = indices(keep_mlp[i], 1);
      keep_output_rows(*b.gate, keep);
      keep_output_rows(*b.up, keep);
      drop_input_columns(*b.down, keep, s.bias_compensation ? in[i].mlp_mean : at::Tensor());
      o.channels_after = keep.numel();
      out.params_after += params(b.gate) + params(b.up) + params(b.down);
    }
    if (s.heads()) {
      out.params_before += params(b.q) + params(b.k) + params(b.v) + params(b.o);
      const int64_t g = o.heads_before / o.kv_heads_before;
      const at::Tensor q_keep = indices(keep_head[i], g * hd), kv_keep = indices(keep_head[i], hd);
      keep_output_rows(*b.q, q_keep);
      keep_output_rows(*b.k, kv_keep);
      keep_output_rows(*b.v, kv_keep);
      drop_input_columns(*b.o, q_keep, s.bias_compensation ? in[i].attn_mean : at::Tensor());
      o.heads_after = q_keep.numel() / hd;
      o.kv_heads_after = kv_keep.numel() / hd;
      out.params_after += params(b.q) + params(b.k) + params(b.v) + params(b.o);
    }
    out.blocks.push_back(o);
  }
  return out;
}

}  // namespace quench
