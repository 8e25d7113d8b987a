// Reading recipes: Recipe::parse and the ways to get one (a file, a scheme or preset name).
// Resolving a recipe against a model is in recipe_resolve.cpp; helpers both use in recipe.cpp.
#include "core/compress/recipe.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/compress/json_fields.h"
#include "core/compress/quamba2.h"
#include "core/compress/recipe_detail.h"
#include "core/compress/schemes.h"
#include "core/util/read_file.h"

namespace quench {

using recipe_detail::merge_patch;
using recipe_detail::merge_section;
using recipe_detail::quoted_list;
using recipe_detail::recipe_fail;
using recipe_json::Fields;
using recipe_json::type_name;

namespace {

// Sections a setting may carry. A new method adds its key here (and, if it applies to layers, to
// kLayerSections in recipe_resolve.cpp), a parser in its own file, a field in LayerPlan and a case
// in typed_layer_plan() (recipe_resolve.cpp; docs/adding-a-method.md).
const char* const kAllSections[] = {"weights", "activations", "output_activations", "prune", "lowrank", "kv_cache"};

// Checks one section of one entry on its own (keys, types, ranges).
void check_section_partial(const std::string& section, const nlohmann::json& j, const std::string& key) {
  if (section == "weights") parse_weight_quant(j, key, {}, true);
  else if (section == "kv_cache") parse_kv_quant(j, key, {}, true);
  else if (section == "prune") parse_prune(j, key, {}, true);
  else if (section == "lowrank") parse_lowrank(j, key, {}, true);
  else parse_act_quant(j, key, {}, true);
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

}  // namespace quench
