// Helpers shared by recipe_parse.cpp (reading recipes), recipe_resolve.cpp and recipe_kv.cpp
// (applying them to a model): the error helper, merging one entry onto another, glob matching,
// where a field came from, and lists for messages.
#include "core/compress/recipe_detail.h"

#include <iterator>

#include "core/compress/lowrank_method.h"
#include "core/compress/prune_method.h"
#include "core/compress/weight_method.h"
#include "core/stats/point_pattern.h"

namespace quench::recipe_detail {

namespace {

// Fields a later entry's value makes meaningless when it does not set them again: switching the
// strategy drops an inherited group_size, switching the method drops the old method's options, and
// a group_size spelled out later means exactly that size (a scheme's group_fallback goes).
const std::vector<std::string>& dependents(const std::string& section, const std::string& field) {
  static const std::vector<std::string> none;
  static const std::map<std::string, std::vector<std::string>> w = {
      {"strategy", {"group_size", "group_fallback"}},
      {"group_size", {"group_fallback"}},
      {"method", weight_method_option_keys()},
      {"format", {"bits", "symmetric", "strategy", "group_size", "group_fallback"}}};
  static const std::map<std::string, std::vector<std::string>> a = {
      {"strategy", {"dynamic", "observer", "percentile"}},
      {"dynamic", {"observer", "percentile"}},
      {"observer", {"percentile"}},
      {"format", {"type", "bits", "symmetric", "strategy", "dynamic", "observer", "percentile"}}};
  static const std::map<std::string, std::vector<std::string>> kv = {{"method", {"residual", "high_bits", "salient", "probe"}}};
  // The amount is one of several exclusive keys: setting one drops the others.
  static const std::map<std::string, std::vector<std::string>> prune = {
      {"sparsity", {"pattern"}}, {"pattern", {"sparsity"}}, {"method", prune_method_option_keys()}};
  static const std::map<std::string, std::vector<std::string>> lowrank = {
      {"rank", {"ratio", "energy"}}, {"ratio", {"rank", "energy"}}, {"energy", {"rank", "ratio"}}, {"method", lowrank_method_option_keys()}};
  const auto& table = section == "weights"    ? w
                      : section == "kv_cache" ? kv
                      : section == "prune"    ? prune
                      : section == "lowrank"  ? lowrank
                                              : a;
  auto it = table.find(field);
  return it == table.end() ? none : it->second;
}

}  // namespace

[[noreturn]] void recipe_fail(const std::string& key, const std::string& message, const std::string& layer) {
  throw RecipeError(key, layer, key + ": " + message);
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

std::string quoted_list(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "'" : ", '") + x + "'";
  return s;
}

bool matches_any(const std::vector<std::string>& globs, const std::string& name) {
  for (const auto& g : globs)
    if (glob_match(g, name)) return true;
  return false;
}

std::string source_of(const SettingPatch& m, const std::string& field, const std::string& fallback) {
  auto it = m.source.find(field);
  return it != m.source.end() ? it->second : fallback;
}

}  // namespace quench::recipe_detail
