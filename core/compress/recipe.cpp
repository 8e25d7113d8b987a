#include "core/compress/recipe.h"
#include "core/ops/ggml_grid.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/compress/family.h"
#include "core/compress/json_fields.h"
#include "core/compress/quamba.h"
#include "core/compress/quamba2.h"
#include "core/compress/schemes.h"
#include "core/ops/hadamard.h"
#include "core/stats/point_pattern.h"
#include "core/util/read_file.h"

namespace quench {

using recipe_json::Fields;
using recipe_json::type_name;

namespace {

// Sections a setting may carry. A new method adds its key here, a parser in its own file, a
// field in LayerPlan and a case in typed_layer_plan() (docs/adding-a-method.md).
const char* const kLayerSections[] = {"weights", "activations", "output_activations", "prune", "lowrank"};
const char* const kAllSections[] = {"weights", "activations", "output_activations", "prune", "lowrank", "kv_cache"};

[[noreturn]] void recipe_fail(const std::string& key, const std::string& message, const std::string& layer = "") {
  throw RecipeError(key, layer, key + ": " + message);
}

// Checks one section of one entry on its own (keys, types, ranges).
void check_section_partial(const std::string& section, const nlohmann::json& j, const std::string& key) {
  if (section == "weights") parse_weight_quant(j, key, {}, true);
  else if (section == "kv_cache") parse_kv_quant(j, key, {}, true);
  else if (section == "prune") parse_prune(j, key, {}, true);
  else if (section == "lowrank") parse_lowrank(j, key, {}, true);
  else parse_act_quant(j, key, {}, true);
}

// Fields a later entry's value makes meaningless when it does not set them again: switching the
// strategy drops an inherited group_size, switching the method drops the old method's options, and
// a group_size spelled out later means exactly that size (a scheme's group_fallback goes).
const std::vector<std::string>& dependents(const std::string& section, const std::string& field) {
  static const std::vector<std::string> none;
  static const std::map<std::string, std::vector<std::string>> w = {
      {"strategy", {"group_size", "group_fallback"}},
      {"group_size", {"group_fallback"}},
      {"method", {"clip", "damp", "block_size", "act_order", "grid", "clip_search"}},
      {"format", {"bits", "symmetric", "strategy", "group_size", "group_fallback"}}};
  static const std::map<std::string, std::vector<std::string>> a = {
      {"strategy", {"dynamic", "observer", "percentile"}},
      {"dynamic", {"observer", "percentile"}},
      {"observer", {"percentile"}},
      {"format", {"type", "bits", "symmetric", "strategy", "dynamic", "observer", "percentile"}}};
  static const std::map<std::string, std::vector<std::string>> kv = {{"method", {"residual", "high_bits", "salient", "probe"}}};
  // The amount is one of several exclusive keys: setting one drops the others.
  static const std::map<std::string, std::vector<std::string>> prune = {
      {"sparsity", {"pattern"}}, {"pattern", {"sparsity"}}, {"method", {"damp", "block_size"}}};
  static const std::map<std::string, std::vector<std::string>> lowrank = {
      {"rank", {"ratio", "energy"}}, {"ratio", {"rank", "energy"}}, {"energy", {"rank", "ratio"}}, {"method", {"alpha", "group_heads"}}};
  const auto& table = section == "weights"    ? w
                      : section == "kv_cache" ? kv
                      : section == "prune"    ? prune
                      : section == "lowrank"  ? lowrank
                                              : a;
  auto it = table.find(field);
  return it == table.end() ? none : it->second;
}

// Applies `patch` (one section object, or null) from `patch_key` onto `into` (a SettingPatch used
// as the merged state).
void merge_section(SettingPatch& into, const std::string& section, const nlohmann::json& patch,
                   const std::map<std::string, std::string>& patch_source, const std::string& patch_key) {
  auto drop_sources = [&](const std::string& prefix) {
    for (auto it = into.source.begin(); it != into.source.end();)
      it = it->first.rfind(prefix, 0) == 0 ? into.source.erase(it) : std::next(it);
  };
  auto src_of = [&](const std::string& f) {
    auto it = patch_source.find(section + "." + f);
    return it != patch_source.end() ? it->second : patch_key + "." + section + "." + f;
  };
  if (patch.is_null()) {
    into.sections[section] = nullptr;
    drop_sources(section + ".");
    auto it = patch_source.find(section);
    into.source[section] = it != patch_source.end() ? it->second : patch_key + "." + section;
    return;
  }
  nlohmann::json& cur = into.sections[section];
  if (!cur.is_object()) {
    cur = nlohmann::json::object();
    drop_sources(section + ".");
  }
  for (auto it = patch.begin(); it != patch.end(); ++it)
    for (const auto& dep : dependents(section, it.key()))
      if (!patch.contains(dep) && cur.contains(dep)) {
        cur.erase(dep);
        into.source.erase(section + "." + dep);
      }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    cur[it.key()] = it.value();
    into.source[section + "." + it.key()] = src_of(it.key());
  }
  // A group size on its own means grouping (an override that only changes the group size of a
  // per-channel default).
  if (section == "weights" && patch.contains("group_size") && !patch.contains("strategy")) {
    cur["strategy"] = "group";
    into.source["weights.strategy"] = src_of("group_size");
  }
  auto it = patch_source.find(section);
  into.source[section] = it != patch_source.end() ? it->second : patch_key + "." + section;
}

void merge_patch(SettingPatch& into, const SettingPatch& p) {
  for (const auto& [section, value] : p.sections) merge_section(into, section, value, p.source, p.key);
  if (p.skip) {
    into.skip = p.skip;
    into.source["skip"] = p.source.count("skip") ? p.source.at("skip") : p.key + ".skip";
  }
  if (p.rotation) {
    into.rotation = p.rotation;
    into.source["rotation"] = p.source.count("rotation") ? p.source.at("rotation") : p.key + ".rotation";
  }
}

std::vector<std::string> parse_globs(const nlohmann::json& j, const std::string& key) {
  std::vector<std::string> out;
  if (j.is_string()) out.push_back(j.get<std::string>());
  else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_string()) recipe_fail(key + "[" + std::to_string(i) + "]", "must be a string, got " + type_name(j[i]));
      out.push_back(j[i].get<std::string>());
    }
  } else {
    recipe_fail(key, "must be a module name pattern or a list of them, got " + type_name(j));
  }
  if (out.empty()) recipe_fail(key, "is empty");
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].empty()) recipe_fail(key, "has an empty pattern");
  return out;
}

// One setting object: the default or an override.
SettingPatch parse_setting(const nlohmann::json& j, const std::string& key, bool is_override) {
  Fields f(j, key);
  if (is_override) f.only({"match", "scheme", "weights", "activations", "output_activations", "prune", "lowrank", "kv_cache", "rotation", "skip"});
  else f.only({"scheme", "weights", "activations", "output_activations", "prune", "lowrank", "kv_cache", "rotation", "skip"});
  SettingPatch p;
  p.key = key;
  if (is_override) {
    if (!j.contains("match")) recipe_fail(key, "an override needs \"match\" (a module name pattern, e.g. \"model.layers.*.mlp.down_proj\")");
    p.match = parse_globs(j["match"], key + ".match");
  }
  if (j.contains("scheme")) {
    const auto& s = j["scheme"];
    if (!s.is_string()) recipe_fail(key + ".scheme", "must be a scheme name such as \"W4A16\", got " + type_name(s));
    auto ex = expand_scheme(s.get<std::string>());
    if (!ex) recipe_fail(key + ".scheme", "\"" + s.get<std::string>() + "\" is not a known scheme (e.g. " + scheme_examples() + ")");
    std::map<std::string, std::string> src;
    for (auto it = ex->weights.begin(); it != ex->weights.end(); ++it) src["weights." + it.key()] = key + ".scheme";
    for (auto it = ex->activations.begin(); ex->activations.is_object() && it != ex->activations.end(); ++it)
      src["activations." + it.key()] = key + ".scheme";
    src["weights"] = src["activations"] = key + ".scheme";
    merge_section(p, "weights", ex->weights, src, key);
    merge_section(p, "activations", ex->activations, src, key);
  }
  for (const char* section : kAllSections) {
    if (!j.contains(section)) continue;
    const auto& v = j[section];
    const std::string sk = key + "." + section;
    if (!v.is_null() && !v.is_object()) recipe_fail(sk, "must be an object (or null to switch it off), got " + type_name(v));
    if (v.is_object()) check_section_partial(section, v, sk);
    merge_section(p, section, v, {}, key);
  }
  if (j.contains("skip")) p.skip = f.get_bool("skip", false);
  if (j.contains("rotation")) p.rotation = f.get_choice("rotation", "none", {"hadamard", "none"});
  if (is_override && p.sections.empty() && !p.skip && !p.rotation)
    recipe_fail(key, "sets nothing (give weights, activations, output_activations, prune, lowrank, kv_cache, rotation, scheme or skip)");
  return p;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
  for (const auto& g : globs)
    if (glob_match(g, name)) return true;
  return false;
}

std::string quoted_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s;
}

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

std::string source_of(const SettingPatch& m, const std::string& field, const std::string& fallback) {
  auto it = m.source.find(field);
  return it != m.source.end() ? it->second : fallback;
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
      fail_layer(at("prune.method", "prune"), std::string("method \"") + prune_method_name(p.method) + "\" applies to Linear layers; " + name +
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
      if (w.method != WeightMethod::Rtn)
        fail_layer(at("weights.method", "weights"), std::string("low-rank factors are quantized by round to nearest; method \"") +
                                                        method_name(w.method) + "\" does not apply to " + name + " (it has lowrank)");
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
    if (w.method != WeightMethod::Rtn && kind != LayerKind::Linear)
      fail_layer(at("weights.method", "weights"), std::string("method \"") + method_name(w.method) + "\" applies to Linear layers; " + name +
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

Recipe Recipe::parse(const nlohmann::json& j, const std::string& origin) {
  try {
    Recipe r;
    r.origin = origin;
    r.json = j;
    Fields f(j, "recipe");
    f.only({"name", "description", "preset", "scheme", "default", "ignore", "overrides", "activations", "kv_cache", "smoothquant", "repq", "quamba2", "structured", "points"});
    if (j.contains("name")) {
      if (!j["name"].is_string()) recipe_fail("name", "must be a string, got " + type_name(j["name"]));
      r.name = j["name"].get<std::string>();
    }
    if (j.contains("description") && !j["description"].is_string())
      recipe_fail("description", "must be a string, got " + type_name(j["description"]));
    if (j.contains("preset")) {
      if (!j["preset"].is_string()) recipe_fail("preset", "must be a string, got " + type_name(j["preset"]));
      r.preset = j["preset"].get<std::string>();
      const auto names = preset_names();
      if (std::find(names.begin(), names.end(), r.preset) == names.end())
        recipe_fail("preset", "unknown preset \"" + r.preset + "\" (known: " + quoted_list(names) + ")");
    }
    // The default: top-level scheme, then "default", then the top-level activations / kv_cache.
    nlohmann::json d = nlohmann::json::object();
    if (j.contains("scheme")) d["scheme"] = j["scheme"];
    if (j.contains("default")) {
      if (!j["default"].is_object()) recipe_fail("default", "must be an object, got " + type_name(j["default"]));
      if (j.contains("scheme") && j["default"].contains("scheme"))
        recipe_fail("default.scheme", "a scheme is given both at the top level and in \"default\"");
    }
    r.defaults = parse_setting(j.contains("default") ? j["default"] : nlohmann::json::object(), "default", false);
    if (j.contains("scheme")) {
      SettingPatch s = parse_setting(d, "recipe", false);
      merge_patch(s, r.defaults);
      s.key = "default";
      r.defaults = s;
    }
    for (const char* top : {"activations", "kv_cache"}) {
      if (!j.contains(top)) continue;
      if (j.contains("default") && j["default"].contains(top))
        recipe_fail(top, std::string("is given both at the top level and in \"default\" (keep one)"));
      const auto& v = j[top];
      if (!v.is_null() && !v.is_object()) recipe_fail(top, "must be an object (or null), got " + type_name(v));
      if (v.is_object()) check_section_partial(top, v, top);
      std::map<std::string, std::string> src;
      if (v.is_object())
        for (auto it = v.begin(); it != v.end(); ++it) src[std::string(top) + "." + it.key()] = std::string(top) + "." + it.key();
      src[top] = top;
      merge_section(r.defaults, top, v, src, "recipe");
    }
    if (j.contains("ignore")) {
      const auto& ig = j["ignore"];
      if (!ig.is_array()) recipe_fail("ignore", "must be a list of module name patterns, got " + type_name(ig));
      r.ignore = ig.empty() ? std::vector<std::string>{} : parse_globs(ig, "ignore");
    }
    if (j.contains("overrides")) {
      const auto& ov = j["overrides"];
      if (!ov.is_array()) recipe_fail("overrides", "must be a list of objects, got " + type_name(ov));
      for (size_t i = 0; i < ov.size(); ++i) r.overrides.push_back(parse_setting(ov[i], "overrides[" + std::to_string(i) + "]", true));
    }
    if (j.contains("smoothquant")) {
      Fields sq(j["smoothquant"], "smoothquant");
      sq.only({"alpha"});
      r.smoothquant_alpha = sq.get_double("alpha", 0.5, 0.0, 1.0);
    }
    if (j.contains("repq")) {
      if (!j["repq"].is_boolean()) recipe_fail("repq", "must be true or false, got " + type_name(j["repq"]));
      r.repq = j["repq"].get<bool>();
    }
    if (j.contains("quamba2")) {
      if (!j["quamba2"].is_boolean()) recipe_fail("quamba2", "must be true or false, got " + type_name(j["quamba2"]));
      r.quamba2 = j["quamba2"].get<bool>();
    }
    if (j.contains("structured") && !j["structured"].is_null()) r.structured = parse_flap(j["structured"], "structured");
    if (j.contains("points")) {
      const auto& pts = j["points"];
      if (!pts.is_array()) recipe_fail("points", "must be a list of {\"match\", \"activations\"} objects, got " + type_name(pts));
      for (size_t i = 0; i < pts.size(); ++i) {
        const std::string key = "points[" + std::to_string(i) + "]";
        Fields pf(pts[i], key);
        pf.only({"match", "activations"});
        if (!pts[i].contains("match")) recipe_fail(key, "needs \"match\" (a point name pattern, e.g. \"*.mixer:x\")");
        if (!pts[i].contains("activations") || !pts[i]["activations"].is_object())
          recipe_fail(key + ".activations", "needs an object (how the point is quantized)");
        PointRule pr;
        pr.key = key;
        pr.match = parse_globs(pts[i]["match"], key + ".match");
        pr.act = parse_act_quant(pts[i]["activations"], key + ".activations");
        r.points.push_back(std::move(pr));
      }
    }
    return r;
  } catch (const RecipeError& e) {
    throw RecipeError(e.key(), e.layer(), origin + ": " + e.what());
  }
}

Recipe Recipe::from_file(const std::string& path) {
  // A recipe names settings per layer pattern: even an 8B model's hand-written recipe is tens of kB.
  const std::string text = read_file(path, kMaxRecipeBytes, "recipe");
  nlohmann::json j;
  // Two values for one key would silently keep the last; a recipe is refused instead.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  const nlohmann::json::parser_callback_t cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) keys.emplace_back();
    else if (ev == E::object_end && !keys.empty()) keys.pop_back();
    else if (ev == E::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  try {
    j = nlohmann::json::parse(text, cb);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for a number like 1e3084
    throw RecipeError("", "", path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!duplicate.empty())
    throw RecipeError(duplicate, "", path + ": key '" + duplicate + "' appears twice in one object; give each setting once");
  Recipe r = parse(j, path);
  return r;
}

std::optional<Recipe> Recipe::from_name(const std::string& name) {
  const auto presets = preset_names();
  if (std::find(presets.begin(), presets.end(), name) != presets.end())
    return parse({{"name", name}, {"preset", name}}, "preset " + name);
  if (expand_scheme(name)) return parse({{"name", name}, {"scheme", name}}, "scheme " + name);
  return std::nullopt;
}

Recipe Recipe::load(const std::string& path_or_name) {
  std::error_code ec;
  if (std::filesystem::exists(path_or_name, ec)) return from_file(path_or_name);
  if (auto r = from_name(path_or_name)) return *r;
  throw RecipeError("", "", path_or_name + ": no such recipe file, and not a scheme (" + std::string(scheme_examples()) +
                                ") or preset (" + quoted_list(preset_names()) + ")");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> n = {"quamba"};
  for (const auto& q : quamba2_presets()) n.push_back(q);
  return n;
}

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
    if (l.weights && l.weights->method != WeightMethod::Rtn) return true;
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

    // KV cache, per attention module (the owners of :k / :v points).
    std::map<std::string, std::pair<std::string, std::string>> modules;  // module → (k point, v point)
    std::vector<std::string> module_order;
    std::map<std::string, std::string> queries;  // module → its :q point (ZipCache ranks tokens by attention)
    for (const auto& p : model.points()) {
      const auto colon = p.name.rfind(':');
      if (colon == std::string::npos) continue;
      const std::string what = p.name.substr(colon + 1), mod = p.name.substr(0, colon);
      if (what == "q") queries[mod] = p.name;
      if (what != "k" && what != "v") continue;
      if (!modules.count(mod)) module_order.push_back(mod);
      (what == "k" ? modules[mod].first : modules[mod].second) = p.name;
    }
    const bool default_kv = recipe.defaults.sections.count("kv_cache") != 0;
    if (default_kv && modules.empty() && !recipe.defaults.sections.at("kv_cache").is_null())
      recipe_fail(source_of(recipe.defaults, "kv_cache", "kv_cache"),
                  model.architecture() + " has no attention modules (no :k/:v points), so there is no KV cache to quantize");
    std::vector<bool> kv_override_used(recipe.overrides.size(), false);
    for (const auto& mod : module_order) {
      SettingPatch m;
      std::string last;
      if (default_kv) {
        merge_section(m, "kv_cache", recipe.defaults.sections.at("kv_cache"), recipe.defaults.source, recipe.defaults.key);
        last = source_of(recipe.defaults, "kv_cache", "kv_cache");
      }
      for (size_t i = 0; i < recipe.overrides.size(); ++i) {
        const auto& o = recipe.overrides[i];
        if (!o.sections.count("kv_cache") || !matches_any(o.match, mod)) continue;
        kv_override_used[i] = override_used[i] = true;
        merge_section(m, "kv_cache", o.sections.at("kv_cache"), o.source, o.key);
        last = o.key;
      }
      auto it = m.sections.find("kv_cache");
      if (it == m.sections.end() || it->second.is_null()) continue;
      KvPlan k;
      k.module = mod;
      k.k_point = modules[mod].first;
      k.v_point = modules[mod].second;
      try {
        k.kv = parse_kv_quant(it->second, source_of(m, "kv_cache", "kv_cache"),
                              [&m](const std::string& f) { return source_of(m, "kv_cache." + f, source_of(m, "kv_cache", "kv_cache") + "." + f); });
      } catch (const RecipeError& e) {
        throw RecipeError(e.key(), mod, std::string(e.what()) + " (module " + mod + ")");
      }
      QUENCH_CHECK(!k.k_point.empty() && !k.v_point.empty(), mod, ": has only one of its :k/:v points");
      k.q_point = queries.count(mod) ? queries.at(mod) : "";
      k.head_dim = model.attention_head_dim();
      if (k.kv.method == KvMethod::ZipCache && (k.q_point.empty() || k.head_dim <= 0))
        throw RecipeError(source_of(m, "kv_cache.method", source_of(m, "kv_cache", "kv_cache")), mod,
                          "kv_cache.method: \"zipcache\" ranks tokens by the attention of " + mod + "'s queries, which " +
                              model.architecture() + " does not expose (no " + mod + ":q point)");
      if (k.kv.fp4()) {
        const int64_t unit = ops::ggml_grid_info(k.kv.fp4_type()).slot;
        if (k.head_dim <= 0 || k.head_dim % unit != 0)
          throw RecipeError(source_of(m, "kv_cache.method", source_of(m, "kv_cache", "kv_cache")), mod,
                            "kv_cache.method: \"" + k.kv.to_json()["method"].get<std::string>() + "\" quantizes blocks of " +
                                std::to_string(unit) + " channels within a head, and " + mod + "'s heads are " +
                                (k.head_dim <= 0 ? "of unknown width" : std::to_string(k.head_dim) + " wide"));
      }
      k.source = last;
      out.kv.push_back(std::move(k));
    }
    for (size_t i = 0; i < recipe.overrides.size(); ++i) {
      const auto& o = recipe.overrides[i];
      if (o.sections.count("kv_cache") && !kv_override_used[i])
        recipe_fail(o.key + ".kv_cache", "matches no attention module" +
                                             (module_order.empty() ? " (" + model.architecture() + " has none)"
                                                                   : " (they are named like '" + module_order.front() + "')"));
    }

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
      if (!any) recipe_fail("smoothquant", "no norm → linear pairs are known for " + model.architecture() + " (core/compress/family.cpp)");
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
      if (!norm) recipe_fail("repq", "no LayerNorm → linear groups are known for " + model.architecture() + " (core/compress/family.cpp)");
      if (!quantized)
        recipe_fail("repq", "reparameterizes post-LayerNorm activations for their integer quantizers, but no layer reading a LayerNorm "
                            "quantizes its input (add \"activations\")");
      out.repq = true;
    }

    for (const auto& lp : out.layers) {
      if (!lp.lowrank || lp.lowrank->method != LowRankMethod::Palu) continue;
      const auto src = lp.field_sources.count("lowrank.method") ? lp.field_sources.at("lowrank.method") : std::string("lowrank");
      if (!is_kv_projection(model, lp.layer))
        recipe_fail(src, "palu factors the key and value projections of attention; " + lp.layer + " is not one of " + model.architecture() +
                             "'s (core/compress/family.cpp)", lp.layer);
      const Layer& l = model.layer(lp.layer);
      const int64_t hd = model.attention_head_dim(), rows = hd * lp.lowrank->group_heads;
      if (hd <= 0 || l.out_features() % rows != 0)
        recipe_fail(src, lp.layer + " has " + std::to_string(l.out_features()) + " outputs, which do not split into groups of " +
                             std::to_string(lp.lowrank->group_heads) + " heads of " + std::to_string(hd) + " (set lowrank.group_heads)", lp.layer);
      const int64_t r = lp.lowrank->rank_for(l.out_features(), l.in_features()), n = l.out_features() / rows;
      if (r < n)
        recipe_fail(src, "rank " + std::to_string(r) + " of " + lp.layer + " leaves less than one per head group (" + std::to_string(n) + " groups)",
                    lp.layer);
    }

    if (recipe.quamba2) {
      if (model.architecture() != "Mamba2ForCausalLM")
        recipe_fail("quamba2", "the sort-and-cluster reordering applies to Mamba-2 (Mamba2ForCausalLM), not " + model.architecture() +
                                   " (on Mamba the quamba2 presets are Quamba's recipe with their weights)");
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
