#pragma once
// The typed "prune" and "lowrank" sections of a recipe (docs/recipes.md), parsed strictly like
// settings.h's: an unknown key or impossible value throws a RecipeError naming the key; checks
// that need the layer (M divides the inputs, the rank fits) are in recipe_resolve.cpp's
// typed_layer_plan.
//
//   prune:   {"method": a registered prune method (prune_method.h: "magnitude"|"wanda"|"sparsegpt"),
//             "sparsity": 0 ≤ p < 1  (unstructured)
//             | "pattern": "N:M" (keep N of every M consecutive inputs of a row, NVIDIA's and
//             ELSA's convention: "2:4" keeps 2 of 4, 50%; "1:4" keeps 1, 75%),
//             and the method's own options, declared in its file (sparsegpt: "damp": 0.01,
//             "block_size": 128)}
//   lowrank: {"method": a registered low-rank method (lowrank_method.h: "svd"|"asvd"|"svd-llm"|"palu"),
//             "rank": r | "ratio": ρ (kept fraction of the layer's parameters,
//             r = ⌊ρ·out·in/(out+in)⌋; palu: ρ·out) | "energy": e (svd only: the smallest r whose
//             σ₁²+…+σ_r² reaches e of Σσ²), and the method's own options (asvd: "alpha": 0.5;
//             palu: "group_heads": 4)}
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "core/compress/settings.h"

namespace quench {

struct PruneSetting {
  std::string method = "magnitude";  // a registered prune method (prune_method.h)
  double sparsity = 0;   // unstructured: fraction of the weight zeroed
  int n = 0, m = 0;      // N:M (m > 0): keep n of every m consecutive inputs of each row
  // The method's own options that the recipe gave, by key; the others take the defaults its file
  // declares. Read them through option() and its typed forms.
  nlohmann::json options = nlohmann::json::object();

  bool nm() const { return m > 0; }
  bool needs_data() const;  // the method reads calibration data
  // The fraction of the weight the setting zeroes (N:M: 1 − N/M), before rounding to whole weights.
  double target_sparsity() const { return nm() ? 1.0 - static_cast<double>(n) / m : sparsity; }
  // The method's option: as given, else its declared default. Fails naming the key and the method
  // when the method has no such option.
  nlohmann::json option(const std::string& key) const;
  int64_t integer(const std::string& key) const { return option(key).get<int64_t>(); }
  double number(const std::string& key) const { return option(key).get<double>(); }
  nlohmann::json to_json() const;
  std::string describe() const;  // "2:4 sparsegpt", "50% wanda"
};

struct LowRankSetting {
  std::string method = "svd";  // a registered low-rank method (lowrank_method.h)
  int64_t rank = 0;    // one of rank, ratio, energy is set
  double ratio = 0;
  double energy = 0;
  // The method's own options that the recipe gave, by key (asvd: alpha; palu: group_heads, the
  // heads factored together); the others take the defaults its file declares.
  nlohmann::json options = nlohmann::json::object();

  bool needs_data() const;
  // SVD-LLM and Palu whiten with the inputs' second moment (the layer's Hessian).
  bool whitened() const;
  // ASVD scales by the inputs' mean |x|.
  bool needs_abs_mean() const;
  // The rank for an [out, in] weight when it does not depend on the weight (rank, ratio); 0 for energy.
  int64_t rank_for(int64_t out, int64_t in) const;
  nlohmann::json option(const std::string& key) const;
  int64_t integer(const std::string& key) const { return option(key).get<int64_t>(); }
  double number(const std::string& key) const { return option(key).get<double>(); }
  nlohmann::json to_json() const;
  std::string describe() const;  // "rank 64 svd-llm"
};

PruneSetting parse_prune(const nlohmann::json& j, const std::string& key, const FieldSource& source = {}, bool partial = false);
LowRankSetting parse_lowrank(const nlohmann::json& j, const std::string& key, const FieldSource& source = {}, bool partial = false);

}  // namespace quench
