// libFuzzer target: recipe files (core/compress/recipe*.cpp, settings.cpp, prune_settings.cpp)
// read as `--recipe FILE` reads them, then resolved against three tiny models (a Llama, a Mamba-2,
// a ViT) as `compress --plan` does: the plan, its size estimate and the two exporters' verdicts.
// quench::Error (RecipeError included) is the orderly refusal; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/compress/plan_text.h"
#include "core/compress/recipe.h"
#include "core/compress/size_estimate.h"
#include "core/export/compressed_tensors.h"
#include "core/export/gguf_export.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"
#include "fuzz/model_dir.h"

namespace {

const std::vector<std::unique_ptr<quench::Model>>& models() {
  static const auto m = [] {
    std::vector<std::unique_ptr<quench::Model>> v;
    for (const char* name : {"llama-tiny", "mamba2-tiny", "vit-tiny"})
      v.push_back(quench::load_model(quench::fuzz::fixture_dir(name)));
    return v;
  }();
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
  quench::Recipe recipe;
  try {
    recipe = quench::Recipe::from_file(path);
  } catch (const quench::Error&) {
    return 0;
  }
  for (const auto& model : models()) {
    try {
      const quench::ResolvedRecipe plan = quench::resolve(recipe, *model);
      (void)plan.to_json().dump();
      for (const auto& l : plan.layers) (void)quench::setting_text(l);
      (void)quench::estimate_size(*model, plan).to_json().dump();
      (void)quench::ct_exportable(*model, plan);
      (void)quench::gguf_exportable(*model, plan);
    } catch (const quench::Error&) {
    }
  }
  return 0;
}
