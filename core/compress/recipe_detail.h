#pragma once
// Internal to recipe*.cpp (recipe.cpp, recipe_parse.cpp, recipe_resolve.cpp, recipe_kv.cpp): helpers both the
// parsing and the resolving of recipes use. Not part of the recipe API; include recipe.h instead.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/compress/recipe.h"

namespace quench::recipe_detail {

// Throws RecipeError for `key` (and `layer`, when given) with the message "key: message".
[[noreturn]] void recipe_fail(const std::string& key, const std::string& message, const std::string& layer = "");

// Applies `patch` (one section object, or null) from `patch_key` onto `into` (a SettingPatch used
// as the merged state). A field the patch sets drops the inherited fields that depend on it.
void merge_section(SettingPatch& into, const std::string& section, const nlohmann::json& patch,
                   const std::map<std::string, std::string>& patch_source, const std::string& patch_key);

// Merges every section of `p`, and its skip and rotation, onto `into`.
void merge_patch(SettingPatch& into, const SettingPatch& p);

// 'a', 'b', 'c': names for messages.
std::string quoted_list(const std::vector<std::string>& v);

// Whether name matches any of the globs.
bool matches_any(const std::vector<std::string>& globs, const std::string& name);
// Where a merged field came from (the recipe key that set it), else fallback.
std::string source_of(const SettingPatch& m, const std::string& field, const std::string& fallback);

// The kv_cache sections: one KvPlan per attention module (the owner of :k / :v points) into
// out.kv; marks the overrides that matched one in override_used (recipe_kv.cpp).
void resolve_kv_cache(const Recipe& recipe, const Model& model, ResolvedRecipe& out, std::vector<bool>& override_used);

}  // namespace quench::recipe_detail
