// Resolving a recipe against a model: one concrete setting per layer, KV-cache module and point,
// with the checks only the model makes possible. Reading recipes is in recipe_parse.cpp.
#include "core/compress/recipe.h"

#include <algorithm>
#include <set>

#include "core/compress/family.h"
#include "core/compress/lowrank_method.h"
#include "core/compress/quamba.h"
#include "core/compress/quamba2.h"
#include "core/compress/recipe_detail.h"
#include "core/compress/weight_method.h"
#include "core/models/registry.h"
#include "core/ops/ggml_grid.h"
#include "core/ops/hadamard.h"
#include "core/stats/point_pattern.h"

namespace quench {

using recipe_detail::matches_any;
using recipe_detail::merge_patch;
using recipe_detail::merge_section;
using recipe_detail::quoted_list;
using recipe_detail::recipe_fail;
using recipe_detail::resolve_kv_cache;
using recipe_detail::source_of;

namespace {

// Sections that apply to layers (kAllSections in recipe_parse.cpp less kv_cache). A new method adds
// its key here and to kAllSections, a parser in its own file, a field in LayerPlan and a case in
// typed_layer_plan() (docs/adding-a-method.md).
const char* const kLayerSections[] = {"weights", "activations", "output_activations", "prune", "lowrank"};

std::string divisors_near(int64_t n, int64_t g) {
  int64_t below = 0, above = 0;
  for (int64_t d = 1; d <= n; ++d) {
    if (n % d) continue;
    if (d < g) below = d;
    else if (d > g && !above) above = d;
  }
  std::string s;
  if (below) s += std::to_string(below);
  if (above) s += (s.empty() ? "" : ", ") + std::to_string(above);
  return s;
}

// The preset's recipe for this architecture, parsed with its own origin.
Recipe preset_recipe(const std::string& name, const std::string& architecture) {
  if (name == "quamba") return Recipe::parse(quamba_recipe(architecture), "preset quamba");
  for (const auto& q : quamba2_presets())
    if (name == q) return Recipe::parse(quamba2_recipe(name, architecture), "preset " + name);
  recipe_fail("preset", "unknown preset \"" + name + "\"");
}

// Combines a preset with the user's recipe: the user's default merges onto the preset's, the
// user's overrides, points and ignore entries follow the preset's.
Recipe with_preset(const Recipe& r, const std::string& architecture) {
  if (r.preset.empty()) return r;
  Recipe p = preset_recipe(r.preset, architecture);
  Recipe out = r;
  SettingPatch d = p.defaults;
  merge_patch(d, r.defaults);
  d.key = "default";
  out.defaults = d;
  out.overrides = p.overrides;
  for (auto& o : out.overrides) o.key = "preset " + r.preset + ": " + o.key;
  out.overrides.insert(out.overrides.end(), r.overrides.begin(), r.overrides.end());
  out.points = p.points;
  for (auto& pr : out.points) pr.key = "preset " + r.preset + ": " + pr.key;
  out.points.insert(out.points.end(), r.points.begin(), r.points.end());
  out.ignore = p.ignore;
  out.ignore.insert(out.ignore.end(), r.ignore.begin(), r.ignore.end());
  if (!out.smoothquant_alpha) out.smoothquant_alpha = p.smoothquant_alpha;
  out.repq = out.repq || p.repq;
  out.quamba2 = out.quamba2 || p.quamba2;
  if (!out.structured) out.structured = p.structured;
  return out;
}

// The layer-dependent checks of the prune and lowrank sections.
template <class At, class Fail>
void check_prune_lowrank(const LayerPlan& plan, const Layer& layer, const At& at, const Fail& fail_layer) {
  const std::string& name = layer.name();
  const LayerKind kind = layer.kind();
  const std::string kname = kind_name(kind);
  const int64_t out = layer.out_features(), in = layer.in_features();
  if (plan.prune) {
    const PruneSetting& p = *plan.prune;
    if (p.needs_data() && kind != LayerKind::Linear)
      fail_layer(at("prune.method", "prune"), "method \"" + p.method + "\" applies to Linear layers; " + name +
                                                  " is a " + kname + " (use \"magnitude\")");
    if (kind == LayerKind::Embedding || kind == LayerKind::Conv1d)
      fail_layer(at("prune", "prune"), "pruning applies to Linear and Conv2d layers; " + name + " is a " + kname);
    if (p.nm() && in % p.m != 0)
      fail_layer(at("prune.pattern", "prune"), "pattern " + std::to_string(p.n) + ":" + std::to_string(p.m) + " needs M to divide the " +
                                                   std::to_string(in) + " input features of " + name);
    if (plan.lowrank) fail_layer(at("lowrank", "lowrank"), "prune and lowrank on the same layer are not supported; " + name + " gets both (from " +
                                                             at("prune", "prune") + ")");
  }
  if (plan.lowrank) {
    const LowRankSetting& l = *plan.lowrank;
    if (kind != LayerKind::Linear) fail_layer(at("lowrank", "lowrank"), "low-rank factors apply to Linear layers; " + name + " is a " + kname);
    const int64_t most = std::min(out, in);
    if (l.rank > most)
      fail_layer(at("lowrank.rank", "lowrank"), "rank " + std::to_string(l.rank) + " is larger than min(out, in) = " + std::to_string(most) +
                                                    " of " + name + " [" + std::to_string(out) + ", " + std::to_string(in) + "]");
    if (plan.weights) {
      const WeightQuant& w = *plan.weights;
      if (w.ggml)
        fail_layer(at("weights.format", "weights"), std::string("format \"") + ggml_info(*w.ggml).name + "\" quantizes a whole weight; " + name +
                                                        " has lowrank, whose factors GGUF cannot hold (use format \"int\")");
      if (w.olive)
        fail_layer(at("weights.type", "weights"), "OliVe pairs the elements of a whole weight; " + name +
                                                      " has lowrank, whose factors are quantized on integers (use type \"int\")");
      if (w.method != rtn_method().name)
        fail_layer(at("weights.method", "weights"), std::string("low-rank factors are quantized by round to nearest; method \"") +
                                                        w.method + "\" does not apply to " + name + " (it has lowrank)");
      const int64_t r = l.rank_for(out, in);
      if (w.strategy == WeightStrategy::Group && r > w.group_size && r % w.group_size != 0)
        fail_layer(at("lowrank", "lowrank"), "the factor A [" + std::to_string(out) + ", " + std::to_string(r) + "] of " + name +
                                                 " is quantized in groups of " + std::to_string(w.group_size) +
                                                 " along the rank, which must then be a multiple of it or at most it");
    }
  }
}

// The merged sections of one layer → its typed plan, with the layer-dependent checks.
void typed_layer_plan(const SettingPatch& m, const Layer& layer, LayerPlan& plan) {
  const std::string& name = layer.name();
  auto src = [&](const std::string& section) {
    return [&m, section](const std::string& field) { return source_of(m, section + "." + field, source_of(m, section, section) + "." + field); };
  };
  auto at = [&](const std::string& field, const std::string& section) { return source_of(m, field, source_of(m, section, section)); };
  auto with_layer = [&](const std::string& message) {
    return message.find(name) == std::string::npos ? message + " (layer " + name + ")" : message;
  };
  auto fail_layer = [&](const std::string& key, const std::string& message) { throw RecipeError(key, name, with_layer(key + ": " + message)); };
  auto section = [&](const char* s) -> const nlohmann::json* {
    auto it = m.sections.find(s);
    return it == m.sections.end() || it->second.is_null() ? nullptr : &it->second;
  };
  try {
    if (const auto* w = section("weights")) plan.weights = parse_weight_quant(*w, source_of(m, "weights", "weights"), src("weights"));
    if (const auto* a = section("activations")) plan.input = parse_act_quant(*a, source_of(m, "activations", "activations"), src("activations"));
    if (const auto* a = section("output_activations"))
      plan.output = parse_act_quant(*a, source_of(m, "output_activations", "output_activations"), src("output_activations"));
    if (const auto* p = section("prune")) plan.prune = parse_prune(*p, source_of(m, "prune", "prune"), src("prune"));
    if (const auto* l = section("lowrank")) plan.lowrank = parse_lowrank(*l, source_of(m, "lowrank", "lowrank"), src("lowrank"));
  } catch (const RecipeError& e) {
    throw RecipeError(e.key(), name, with_layer(e.what()));
  }
  plan.hadamard = m.rotation && *m.rotation == "hadamard";
  const LayerKind kind = layer.kind();
  const std::string kname = kind_name(kind);
  for (std::optional<ActQuant>* a : {&plan.input, &plan.output}) {
    if (!*a || !(*a)->fp4) continue;
    const char* key = a == &plan.input ? "activations" : "output_activations";
    if (kind != LayerKind::Linear)
      fail_layer(at(std::string(key) + ".format", key), std::string("E2M1 block formats apply to Linear layers; ") + name + " is a " + kname);
    const int64_t c = a == &plan.input ? layer.in_features() : layer.out_features();
    const int64_t unit = ops::ggml_grid_info(*(*a)->fp4).unit;
    if (c % unit != 0) {
      // As with the weights: a layer whose channels are not whole blocks keeps float activations.
      plan.fallback = name + ": its " + std::to_string(c) + " " + (a == &plan.input ? "input" : "output") + " features do not divide into " +
                      ggml_info(*(*a)->fp4).name + " blocks of " + std::to_string(unit) + "; its " + key + " stay float";
      a->reset();
    }
  }
  if (plan.weights) {
    const WeightQuant& w = *plan.weights;
    if (!weight_method(w.method).any_layer_kind && kind != LayerKind::Linear)
      fail_layer(at("weights.method", "weights"), std::string("method \"") + w.method + "\" applies to Linear layers; " + name +
                                                      " is a " + kname + " (use \"rtn\")");
    if (w.ggml && layer.in_features() % w.unit() != 0) {
      // llama.cpp's converter does the same: a row that is not whole blocks keeps a float type.
      plan.fallback = name + ": its " + std::to_string(layer.in_features()) + " input features do not divide into " + ggml_info(*w.ggml).name +
                      " blocks of " + std::to_string(w.unit()) + "; it stays at the checkpoint's float type" +
                      (plan.fallback.empty() ? "" : ", and so do its activations");
      plan.weights.reset();
    } else if (w.strategy == WeightStrategy::Group) {
      const int64_t in = layer.in_features();
      if (in % w.group_size != 0 && w.group_fallback) {
        int64_t g = std::min(w.group_size, in);
        while (in % g != 0) --g;
        // Below 16 a group is barely a group (a prime count of inputs would give one scale per
        // weight): such a layer takes one scale per output channel instead.
        if (g < std::min<int64_t>(16, w.group_size)) {
          plan.fallback = name + ": group_size " + std::to_string(w.group_size) + " does not divide its " + std::to_string(in) +
                          " input features and no divisor from 16 up to it does; it uses one scale per output channel";
          plan.weights->strategy = WeightStrategy::Channel;
          plan.weights->group_size = 0;
        } else {
          plan.fallback = name + ": group_size " + std::to_string(w.group_size) + " does not divide its " + std::to_string(in) +
                          " input features; it uses " + std::to_string(g) + ", the largest divisor below";
          plan.weights->group_size = g;
        }
      } else if (in % w.group_size != 0) {
        const std::string near = divisors_near(in, w.group_size);
        fail_layer(at("weights.group_size", "weights"), "group_size " + std::to_string(w.group_size) + " does not divide the " +
                                                             std::to_string(in) + " input features of " + name +
                                                             (near.empty() ? "" : " (divisors near it: " + near + ")") +
                                                             "; or set \"group_fallback\": true to take the largest divisor below");
      }
    }
  }
  check_prune_lowrank(plan, layer, at, fail_layer);
  if (plan.input && kind == LayerKind::Embedding)
    fail_layer(at("activations", "activations"), "an Embedding's input is token ids; activation quantization does not apply to " + name);
  if (plan.hadamard) {
    const std::string key = at("rotation", "rotation");
    if (kind != LayerKind::Linear) fail_layer(key, "an online Hadamard rotation applies to Linear layers; " + name + " is a " + kname);
    const int64_t n = layer.in_features();
    if (!ops::hadamard_supported(n))
      fail_layer(key, "no Hadamard matrix of size " + std::to_string(n) + " (the input features of " + name +
                          "); supported sizes are 2^k, 12·2^k, 20·2^k and 28·2^k");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

nlohmann::json LayerPlan::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (weights) j["weights"] = weights->to_json();
  if (input) j["activations"] = input->to_json();
  if (output) j["output_activations"] = output->to_json();
  if (hadamard) j["rotation"] = "hadamard";
  if (prune) j["prune"] = prune->to_json();
  if (lowrank) j["lowrank"] = lowrank->to_json();
  j["sources"] = sources;
  if (!compressed()) j["status"] = status;
  return j;
}

const LayerPlan* ResolvedRecipe::find(const std::string& layer) const {
  for (const auto& l : layers)
    if (l.layer == layer) return &l;
  return nullptr;
}

int64_t ResolvedRecipe::compressed_layers() const {
  int64_t n = 0;
  for (const auto& l : layers) n += l.compressed() ? 1 : 0;
  return n;
}

bool ResolvedRecipe::needs_calibration() const {
  if (smoothquant_alpha || repq || quamba2 || !points.empty()) return true;
  if (structured && structured->needs_data()) return true;
  for (const auto& k : kv)
    if (k.kv.method == KvMethod::Fp8) return true;  // static scales
  for (const auto& l : layers) {
    if (l.weights && weight_method(l.weights->method).data != MethodData::None) return true;
    if ((l.prune && l.prune->needs_data()) || (l.lowrank && l.lowrank->needs_data())) return true;
    if ((l.input && !l.input->dynamic) || (l.output && !l.output->dynamic)) return true;
  }
  return false;
}

nlohmann::json ResolvedRecipe::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["layers"] = nlohmann::json::object();
  for (const auto& l : layers) {
    auto lj = l.to_json();
    lj["kind"] = kind_name(l.kind);
    lj["status"] = l.status;
    j["layers"][l.layer] = lj;
  }
  j["kv_cache"] = nlohmann::json::object();
  for (const auto& k : kv) j["kv_cache"][k.module] = k.kv.to_json();
  j["points"] = nlohmann::json::object();
  for (const auto& p : points) j["points"][p.point] = p.act.to_json();
  if (smoothquant_alpha) j["smoothquant"] = {{"alpha", *smoothquant_alpha}};
  if (repq) j["repq"] = true;
  if (quamba2) j["quamba2"] = true;
  if (structured) j["structured"] = structured->to_json();
  j["warnings"] = warnings;
  return j;
}

namespace {
// Structured pruning changes the inputs of down_proj (MLP channels) and o_proj (heads) before the
// per-layer steps run, so their settings must still fit whatever count of inputs survives: MLP
// channels are kept in multiples of `align`, heads in whole key/value groups.
void check_structured(const FlapSetting& s, const Model& model, const ResolvedRecipe& out) {
  const std::string why = flap_unsupported_reason(model);
  if (!why.empty()) recipe_fail("structured.method", why);
  for (int64_t b = 0; b < model.num_blocks(); ++b) {
    const FlapBlock fb = flap_block(model, b);
    const int64_t group_width = fb.q->out_features() / (fb.k->out_features() / fb.head_dim);
    struct Reader {
      const Layer* layer;
      int64_t unit;  // inputs are kept in multiples of this
      const char* why;
    };
    std::vector<Reader> readers;
    if (s.mlp()) readers.push_back({fb.down, s.align, "structured.align"});
    if (s.heads()) readers.push_back({fb.o, group_width, "structured.target"});
    for (const auto& r : readers) {
      const LayerPlan* p = out.find(r.layer->name());
      if (!p) continue;
      auto fail = [&](const std::string& what, int64_t need) {
        throw RecipeError(r.why, r.layer->name(),
                          std::string(r.why) + ": " + r.layer->name() + " keeps its inputs in multiples of " + std::to_string(r.unit) +
                              " after structured pruning, which " + what + " (" + std::to_string(need) + ") does not divide" +
                              (std::string(r.why) == "structured.align" ? "; set align to a multiple of it" : ""));
      };
      if (p->weights && p->weights->strategy == WeightStrategy::Group && r.unit % p->weights->group_size != 0)
        fail("its weights' group_size", p->weights->group_size);
      if (p->prune && p->prune->nm() && r.unit % p->prune->m != 0) fail("its prune pattern's M", p->prune->m);
    }
  }
}
}  // namespace

ResolvedRecipe resolve(const Recipe& recipe_in, const Model& model) {
  try {
    const Recipe recipe = with_preset(recipe_in, model.architecture());
    ResolvedRecipe out;
    out.name = recipe.name;
    const std::string head = head_layer(model);
    std::vector<bool> override_used(recipe.overrides.size(), false), ignore_used(recipe.ignore.size(), false);

    for (const auto& lp : model.layers()) {
      const Layer& layer = *lp;
      LayerPlan plan;
      plan.layer = layer.name();
      plan.kind = layer.kind();
      const bool by_default = (layer.kind() == LayerKind::Linear || layer.kind() == LayerKind::Conv2d) && layer.name() != head;
      SettingPatch m;
      bool reached = false;
      auto has_layer_part = [](const SettingPatch& p) {
        if (p.skip || p.rotation) return true;
        for (const char* s : kLayerSections)
          if (p.sections.count(s)) return true;
        return false;
      };
      if (by_default && has_layer_part(recipe.defaults)) {
        merge_patch(m, recipe.defaults);
        plan.sources.push_back("default");
        reached = true;
      }
      for (size_t i = 0; i < recipe.overrides.size(); ++i) {
        const auto& o = recipe.overrides[i];
        if (!matches_any(o.match, layer.name()) || !has_layer_part(o)) continue;
        override_used[i] = true;
        merge_patch(m, o);
        plan.sources.push_back(o.key);
        reached = true;
      }
      int ignored_by = -1;
      for (size_t i = 0; i < recipe.ignore.size(); ++i)
        if (glob_match(recipe.ignore[i], layer.name())) {
          ignore_used[i] = true;
          if (ignored_by < 0) ignored_by = static_cast<int>(i);
        }
      if (ignored_by >= 0) {
        plan.status = "kept: ignore[" + std::to_string(ignored_by) + "] '" + recipe.ignore[ignored_by] + "'";
      } else if (m.skip && *m.skip) {
        plan.status = "kept: skip by " + source_of(m, "skip", "?");
      } else if (!reached) {
        plan.status = layer.name() == head ? "kept: the output head is compressed only when an override names it"
                      : layer.kind() == LayerKind::Embedding ? "kept: embeddings are compressed only when an override names them"
                      : layer.kind() == LayerKind::Conv1d    ? "kept: Conv1d layers are compressed only when an override names them"
                                                             : "kept: no recipe entry sets anything for it";
      } else {
        typed_layer_plan(m, layer, plan);
        plan.field_sources = m.source;
        plan.status = plan.compressed()      ? "compressed"
                      : !plan.fallback.empty() ? "kept: " + plan.fallback.substr(plan.fallback.find(": ") + 2)
                                               : "kept: its setting switches everything off";
        if (!plan.fallback.empty()) out.warnings.push_back(plan.fallback);
      }
      out.layers.push_back(std::move(plan));
    }

    resolve_kv_cache(recipe, model, out, override_used);

    // Internal points.
    std::set<std::string> layer_points;
    for (const auto& l : out.layers) {
      if (l.input) layer_points.insert(l.layer + ":input");
      if (l.output) layer_points.insert(l.layer + ":output");
    }
    for (const auto& rule : recipe.points) {
      if (rule.act.fp4)
        recipe_fail(rule.key + ".activations.format", "E2M1 block formats apply to Linear layers' activations (the default's or an override's \"activations\"), not to internal points");
      int n = 0;
      for (const auto& p : model.points()) {
        if (!matches_any(rule.match, p.name)) continue;
        if (layer_points.count(p.name))
          recipe_fail(rule.key + ".match", "point " + p.name + " is already quantized as a layer's activations; quantize it in one place only");
        for (const auto& done : out.points)
          if (done.point == p.name) recipe_fail(rule.key + ".match", "point " + p.name + " is matched by " + done.source + " too");
        out.points.push_back({p.name, rule.act, rule.key});
        ++n;
      }
      if (!n) out.warnings.push_back(rule.key + " (match " + quoted_list(rule.match) + ") matches no point of " + model.architecture());
    }

    if (recipe.smoothquant_alpha) {
      bool any = false;
      for (int64_t b = 0; b < model.num_blocks() && !any; ++b)
        for (const auto& g : block_scale_groups(model, b)) any = any || g.smoothquant;
      if (!any) recipe_fail("smoothquant", "no norm → linear pairs are known for " + model.architecture() + " (as its file in core/models declares them)");
      out.smoothquant_alpha = recipe.smoothquant_alpha;
    }

    if (recipe.repq) {
      // It reparameterizes for the readers' input quantizers: without any, it would change nothing.
      bool norm = false, quantized = false;
      for (int64_t b = 0; b < model.num_blocks(); ++b)
        for (const auto& g : block_scale_groups(model, b)) {
          if (g.prev_kind != ScaleGroup::Prev::LayerNorm) continue;
          norm = true;
          for (const Layer* l : g.layers)
            if (const LayerPlan* lp = out.find(l->name()); lp && lp->input && !lp->input->fp8 && !lp->input->log_sqrt2 && !lp->input->fp4) quantized = true;
        }
      if (!norm) recipe_fail("repq", "no LayerNorm → linear groups are known for " + model.architecture() + " (as its file in core/models declares them)");
      if (!quantized)
        recipe_fail("repq", "reparameterizes post-LayerNorm activations for their integer quantizers, but no layer reading a LayerNorm "
                            "quantizes its input (add \"activations\")");
      out.repq = true;
    }

    // The low-rank methods' checks against the model (Palu: key/value projections, whole head groups).
    for (const auto& lp : out.layers) {
      if (!lp.lowrank) continue;
      const LowRankMethodInfo& m = lowrank_method(lp.lowrank->method);
      if (!m.check_layer) continue;
      const auto src = lp.field_sources.count("lowrank.method") ? lp.field_sources.at("lowrank.method") : std::string("lowrank");
      m.check_layer(*lp.lowrank, model, lp.layer, [&](const std::string& message) { recipe_fail(src, message, lp.layer); });
    }

    if (recipe.quamba2) {
      const Structure* st = structure_of(model.architecture());
      if (!st || !st->ssd_head_reorder)
        recipe_fail("quamba2", "the sort-and-cluster reordering applies to " + reorder_families() + ", not " + model.architecture() +
                                   " (on other selective-scan families the quamba2 presets are Quamba's recipe with their weights)");
      // Grouped scales replace the per-tensor ones of the scan input, B and C: those points must
      // be quantized, statically, symmetrically, on an integer grid with absmax ranges.
      bool x = false;
      for (const auto& p : out.points) {
        const auto colon = p.point.rfind(':');
        const std::string what = colon == std::string::npos ? "" : p.point.substr(colon + 1);
        if (what != "x" && what != "B" && what != "C") continue;
        x = x || what == "x";
        const ActQuant& a = p.act;
        if (a.dynamic || !a.symmetric || a.fp8 || a.log_sqrt2 || a.fp4 || a.strategy != ActStrategy::Tensor || a.observer != ActObserver::MinMax)
          recipe_fail(p.source, p.point + ": with quamba2 its scales are grouped static symmetric absmax ones; set "
                                          "{\"dynamic\": false, \"symmetric\": true, \"observer\": \"minmax\"} on an integer type");
      }
      if (!x) recipe_fail("quamba2", "groups the scales of the scan input, but no point quantizes a mixer's :x (add \"points\", or use a quamba2 preset)");
      const int64_t d = model.config().get_size("hidden_size");
      if (!ops::hadamard_supported(d))
        recipe_fail("quamba2", "rotates the residual stream, but hidden_size " + std::to_string(d) +
                                   " has no Hadamard matrix (2^k, 12·2^k, 20·2^k or 28·2^k)");
      out.quamba2 = true;
    }

    if (recipe.structured) {
      check_structured(*recipe.structured, model, out);
      out.structured = recipe.structured;
    }

    for (size_t i = 0; i < recipe.overrides.size(); ++i)
      if (!override_used[i])
        out.warnings.push_back(recipe.overrides[i].key + " (match " + quoted_list(recipe.overrides[i].match) + ") matches no layer of " +
                               model.architecture());
    for (size_t i = 0; i < recipe.ignore.size(); ++i)
      if (!ignore_used[i]) out.warnings.push_back("ignore[" + std::to_string(i) + "] '" + recipe.ignore[i] + "' matches no layer");
    if (out.compressed_layers() == 0 && out.kv.empty() && out.points.empty() && !out.structured)
      out.warnings.push_back("the recipe compresses nothing in " + model.architecture());
    return out;
  } catch (const RecipeError& e) {
    const std::string prefix = recipe_in.origin + ": ";
    const std::string what = e.what();
    throw RecipeError(e.key(), e.layer(), what.rfind(prefix, 0) == 0 ? what : prefix + what);
  }
}

}  // namespace quench
