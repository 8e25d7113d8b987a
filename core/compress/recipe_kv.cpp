// Resolving a recipe's kv_cache sections against a model: which attention modules have a cache,
// and each one's setting (defaults, then matching overrides in order).
#include <map>
#include <string>
#include <vector>

#include "core/compress/recipe_detail.h"
#include "core/models/model.h"
#include "core/ops/ggml_grid.h"

namespace quench::recipe_detail {

void resolve_kv_cache(const Recipe& recipe, const Model& model, ResolvedRecipe& out, std::vector<bool>& override_used) {
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
}

}  // namespace quench::recipe_detail
