#pragma once
// The pruning methods ("method" in a recipe's prune section), each declared once in its own file
// (wanda.cpp: magnitude and Wanda; sparsegpt.cpp): its name, the options it owns (parsed,
// defaulted, written back and offered in the recipe editor from their declaration, as weight
// methods' are), whether it needs calibration, how many weights a setting zeroes, and how it
// prunes one layer. The recipe parser, the pipeline, the size estimate and the recipe editor read
// this table instead of switching on methods.
//
// A method file registers itself with one line, at the start of its declaration:
//   QUENCH_PRUNE_METHOD(wanda_method, 20) { static const PruneMethodInfo m{...}; return m; }
// The build collects these lines (cmake/method_registry.cmake writes the list, sorted by the number,
// which is the method's place in the recipe editor), so adding a method touches no shared file.
#include <ATen/ATen.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/compress/method_option.h"
#include "core/compress/prune_settings.h"

namespace quench {

struct PruneOutcome {
  at::Tensor weight;  // F32 [out, in] with the pruned entries zero (and SparseGPT's updates)
  at::Tensor mask;    // bool [out, in], true = kept
};

// One layer's pruning as the pipeline hands it to a method.
struct PruneMethodCall {
  const std::string& layer;  // for errors
  const PruneSetting& setting;
  const at::Tensor& weight;  // F32 [out, in]
  // The layer input's (2/N)·XᵀX from the calibration pass; only for methods that need data.
  std::function<const at::Tensor&()> hessian;
  nlohmann::json& details;  // facts recorded with the layer ("sparsegpt_damp", ...)
};

struct PruneMethodInfo {
  const char* name;   // the recipe's "method"
  const char* title;  // for people ("Wanda |W|·‖X‖ (calibrated)")
  bool needs_data;    // reads the layer input's Hessian from a calibration pass
  std::vector<MethodOption> options;  // the prune-section keys only this method reads
  // How many of an [out, in] weight's elements an unstructured setting zeroes, exactly as the
  // method counts (N:M is the same for all: M − N per group).
  int64_t (*unstructured_pruned)(const PruneSetting&, int64_t out, int64_t in);
  PruneOutcome (*prune)(PruneMethodCall&);

  const MethodOption* option(const std::string& key) const;
};

// Every registered method, in the order the recipe editor offers them.
const std::vector<const PruneMethodInfo*>& prune_methods();
// The method of that name; fails naming it when none is registered.
const PruneMethodInfo& prune_method(const std::string& name);
const PruneMethodInfo* find_prune_method(const std::string& name);
// Every option key some pruning method owns (a changed method drops them from an inherited setting).
std::vector<std::string> prune_method_option_keys();

// How many of an [out, in] weight's elements the setting zeroes: N:M (M − N) per group, else the
// method's count. The size estimate and the pipeline share it.
int64_t pruned_weights(const PruneSetting& p, int64_t out, int64_t in);
// ⌊p·n⌋, with a slack that keeps 0.3·10 at 3 despite 0.3 not being exact in binary.
int64_t pruned_count(double p, int64_t n);

#define QUENCH_PRUNE_METHOD(function, place) const PruneMethodInfo& function()

}  // namespace quench
