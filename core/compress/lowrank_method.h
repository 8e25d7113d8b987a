#pragma once
// The low-rank methods ("method" in a recipe's lowrank section), each declared once in its own
// file (svd.cpp, asvd.cpp, svd_llm.cpp, palu.cpp): its name, the options it owns (declared with
// MethodOption, as weight and pruning methods' are), the calibration data it needs, whether it can
// size the rank by energy, how its A factor is laid out, the checks it makes against the model,
// and how it factors one layer. The recipe parser, the pipeline, the size estimate and the recipe
// editor read this table instead of switching on methods.
//
// A method file registers itself with one line, at the start of its declaration:
//   QUENCH_LOWRANK_METHOD(asvd_method, 20) { static const LowRankMethodInfo m{...}; return m; }
// The build collects these lines (cmake/method_registry.cmake writes the list, sorted by the
// number, which is the method's place in the recipe editor).
#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "core/compress/lowrank.h"
#include "core/compress/method_option.h"

namespace quench {

class Model;

// What a low-rank method needs from the calibration pass.
enum class LowRankData {
  None,
  InputAbsMean,  // mean |x| per input channel (ASVD)
  Hessian,       // the input second moment Σ xxᵀ up to a factor (whitening: SVD-LLM, Palu)
};

// One layer's factorization as lowrank_factorize hands it to a method.
struct LowRankMethodCall {
  const std::string& layer;  // for errors
  const LowRankSetting& setting;
  const at::Tensor& weight;    // F64 [out, in]
  int64_t rank;                // resolved: 1 ≤ rank ≤ min(out, in)
  const at::Tensor& hessian;   // LowRankData::Hessian methods
  const at::Tensor& abs_mean;  // LowRankData::InputAbsMean methods
  int64_t head_dim;            // the rows of one attention head (0 when unknown)
};

struct LowRankMethodInfo {
  const char* name;   // the recipe's "method"
  const char* title;  // for the recipe editor ("SVD-LLM, whitened (calibrated)")
  LowRankData data;
  // Its options. LowRankSetting::describe() writes an option with a tag as "<value> <tag>"
  // ("4 heads per group").
  std::vector<MethodOption> options;
  bool by_energy;  // "energy" sizes its rank (the rank is then known from W alone, before calibration)
  LowRankFactors (*factor)(LowRankMethodCall&);
  // The rank a "ratio" gives an [out, in] weight; nullptr: ⌊ρ·out·in/(out+in)⌋, the same size
  // whatever the method.
  int64_t (*rank_for_ratio)(double ratio, int64_t out, int64_t in) = nullptr;
  // The rows of each diagonal block of A when A is block diagonal (for the size estimate); nullptr
  // or 0: A is dense [out, r].
  int64_t (*a_block_rows)(const LowRankSetting&, int64_t head_dim) = nullptr;
  // Checks of a layer's setting against the model (fail(message) for the first violation, a
  // RecipeError naming the layer); nullptr: none.
  void (*check_layer)(const LowRankSetting&, const Model&, const std::string& layer, const std::function<void(const std::string&)>& fail) = nullptr;

  const MethodOption* option(const std::string& key) const;
};

// Every registered method, in the order the recipe editor offers them.
const std::vector<const LowRankMethodInfo*>& lowrank_methods();
// The method of that name; fails naming it when none is registered.
const LowRankMethodInfo& lowrank_method(const std::string& name);
const LowRankMethodInfo* find_lowrank_method(const std::string& name);
// Every option key some low-rank method owns (a changed method drops them from an inherited setting).
std::vector<std::string> lowrank_method_option_keys();

#define QUENCH_LOWRANK_METHOD(function, place) const LowRankMethodInfo& function()

}  // namespace quench
