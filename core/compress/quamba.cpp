#include "core/compress/quamba.h"

#include "core/compress/settings.h"
#include "core/models/registry.h"

namespace quench {

nlohmann::json quamba_recipe(const std::string& architecture) {
  const ArchitectureInfo* a = find_architecture(architecture);
  if (!a || a->structure->quamba.is_null())
    throw RecipeError("preset", "", "preset: \"quamba\" is a recipe for " +
                                        families_where([](const Structure& s) { return !s.quamba.is_null(); }) + ", not " + architecture);
  nlohmann::json r = a->structure->quamba;  // the family's points and overrides (its architecture file)
  r["name"] = "quamba";
  return r;
}

}  // namespace quench
