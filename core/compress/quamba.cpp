#include "core/compress/quamba.h"

#include "core/compress/settings.h"

namespace quench {

nlohmann::json quamba_recipe(const std::string& architecture) {
  const nlohmann::json w8 = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"method", "rtn"}};
  const nlohmann::json a8 = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"dynamic", false}, {"observer", "minmax"}};
  nlohmann::json a8x = a8;
  a8x["observer"] = "percentile";
  a8x["percentile"] = 99.999;
  nlohmann::json r;
  r["name"] = "quamba";
  r["default"] = {{"weights", w8}, {"activations", a8}};
  if (architecture == "MambaForCausalLM") {
    r["overrides"] = nlohmann::json::array({
        // in_proj's output (x and z) shares one scale; the conv then reads quantized x
        {{"match", "*.mixer.in_proj"}, {"output_activations", a8}},
        {{"match", "*.mixer.conv1d"}, {"weights", w8}, {"activations", nullptr}},
        // x_proj reads x, quantized once at mixer:x below; its output (Δ-low-rank, B, C) shares a scale
        {{"match", "*.mixer.x_proj"}, {"activations", nullptr}, {"output_activations", a8}},
        {{"match", "*.mixer.dt_proj"}, {"activations", nullptr}, {"output_activations", a8}},
        {{"match", "*.mixer.out_proj"}, {"rotation", "hadamard"}},
    });
    r["points"] = nlohmann::json::array({{{"match", "*.mixer:x"}, {"activations", a8x}}});
    return r;
  }
  if (architecture == "Mamba2ForCausalLM") {
    r["overrides"] = nlohmann::json::array({
        {{"match", "*.mixer.conv1d"}, {"weights", w8}, {"activations", a8}},
        {{"match", "*.mixer.out_proj"}, {"rotation", "hadamard"}},
    });
    r["points"] = nlohmann::json::array({
        {{"match", "*.mixer:x"}, {"activations", a8x}},
        {{"match", "*.mixer:B"}, {"activations", a8}},
        {{"match", "*.mixer:C"}, {"activations", a8}},
    });
    return r;
  }
  throw RecipeError("preset", "", "preset: \"quamba\" is a recipe for Mamba and Mamba-2 (MambaForCausalLM, Mamba2ForCausalLM), not " + architecture);
}

}  // namespace quench
