#pragma once
// The weight quantization methods ("method" in a recipe's weights section), each declared once in
// its own file (rtn.cpp, gptq.cpp, awq.cpp, dgq.cpp, hqq.cpp, zpsearch.cpp): its name, the options
// it owns (parsed, defaulted, written back and offered in the recipe editor from their declaration),
// the calibration data it needs, the storage it adds to a quantized weight, whether an exporter can
// hold its result, and how it quantizes one layer. The recipe parser, the pipeline, the size
// estimate, the exporters and the recipe editor read this table instead of switching on methods.
//
// A method file registers itself with one line, at the start of its declaration:
//   QUENCH_WEIGHT_METHOD(hqq_method, 50) { static const WeightMethodInfo m{...}; return m; }
// The build collects these lines (cmake/method_registry.cmake writes the list, sorted by the number,
// which is the method's place in the recipe editor), so adding a method touches no shared file.
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/compress/method_option.h"
#include "core/compress/settings.h"
#include "core/nn/weight_encoding.h"

namespace quench {

class Layer;
class Model;

// What a method needs from the calibration pass, captured per layer by the pipeline.
enum class MethodData {
  None,
  Hessian,    // the layer input's (2/N)·XᵀX
  InputRows,  // the layer's calibration inputs themselves (AWQ's clip search)
};

// One layer's quantization as the pipeline hands it to a method.
struct WeightMethodCall {
  const Model& model;
  const Layer& layer;
  const WeightQuant& setting;
  at::Tensor weight;  // float32 [out, in] (pruned already); the method replaces it by its quantized values
  // The layer input's Hessian, handed over: the method may change it in place (GPTQ damps it).
  std::function<at::Tensor()> take_hessian;
  std::function<at::Tensor()> input_rows;  // [N, in]
  bool scale_folded = false;               // a block scale search folded a scale into this layer (AWQ)
  int64_t clip_tokens = 0;                 // tokens a clip search scores on (AWQ; 0: all)
  nlohmann::json& details;                 // facts recorded with the layer ("gptq_damp", ...)
  // The integer grid the result lies on, when one describes it (exporters and packed execution read
  // it); left empty by a method whose result no grid holds.
  std::shared_ptr<const WeightEncoding> encoding;
};

// A method's step over a whole block before its layers are quantized (AWQ's scale search), on
// the block's float weights.
struct BlockMethodCall {
  Model& model;
  int64_t block;
  const std::vector<at::Tensor>& inputs;  // the block's calibration inputs (hidden states) it may score on
  // The layer's weights setting when this method quantizes it, else nullptr.
  std::function<const WeightQuant*(const Layer*)> setting_of;
  // Records a fact with a layer of the run ("awq_ratio", ...); ignored for layers outside the recipe.
  std::function<void(const Layer*, const std::string& key, const nlohmann::json& value)> record;
  // Layers whose input a scale was folded into (WeightMethodCall::scale_folded).
  std::function<void(const Layer*)> mark_folded;
};

struct WeightMethodInfo {
  const char* name;   // the recipe's "method"
  const char* title;  // for people ("GPTQ", "DGQ (int4 groups, int8 channel scales)")
  MethodData data;
  std::vector<MethodOption> options;  // the weights-section keys only this method reads
  // What the values and the 16-bit scales do not count, per weight matrix [out, in] with `slots`
  // scales: DGQ's int8 group scales replace the 16-bit ones, GPTQ's act-order keeps a g_idx.
  double (*extra_bits)(const WeightQuant&, int64_t out, int64_t in, double slots);
  // Why no export format holds this method's result ("" when they do): "DGQ's integer group scales
  // over int8 channel scales"; each exporter adds what it lacks.
  const char* unexportable;
  void (*quantize)(WeightMethodCall&);
  void (*before_block)(BlockMethodCall&) = nullptr;  // nullptr: none
  // The merged setting's checks that concern this method: fail(key, message) for the first
  // violation (a RecipeError naming the key). nullptr: none.
  // The setting's options hold only what the recipe gave (WeightQuant::options), so a check can
  // refuse an option given for a grid it does not apply to.
  void (*check)(const WeightQuant&, const std::function<void(const char* key, const std::string& message)>& fail) = nullptr;
  bool default_asymmetric = false;  // "symmetric" defaults to false with this method
  bool any_layer_kind = false;      // also quantizes Conv and Embedding weights (flattened to [out, in·k…])
  bool fixed_grids = false;         // also rounds the grids nothing is searched on (FP8, OliVe); one method does

  const MethodOption* option(const std::string& key) const;
};

// Every registered method, in the order the recipe editor offers them.
const std::vector<const WeightMethodInfo*>& weight_methods();
// The method of that name; fails naming it when none is registered.
const WeightMethodInfo& weight_method(const std::string& name);
const WeightMethodInfo* find_weight_method(const std::string& name);
// Every option key some method owns (a changed method drops them from an inherited setting).
std::vector<std::string> weight_method_option_keys();

// Round to nearest, which other steps quantize with (low-rank factors, AWQ's unsearched layers).
const WeightMethodInfo& rtn_method();

#define QUENCH_WEIGHT_METHOD(function, place) const WeightMethodInfo& function()

}  // namespace quench
