#pragma once
// Internal to recipe*.cpp (recipe.cpp, recipe_parse.cpp, recipe_resolve.cpp): helpers both the
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

}  // namespace quench::recipe_detail
