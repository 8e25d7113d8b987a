#pragma once
// A mixed-precision recipe from measured sensitivities: choose one candidate per unit so that the
// average bits per weight over the units stays within a budget and the summed damage (ΔNLL, KL or
// top-1 drop, assumed additive across units as HAWQ-V3 and ModelOpt's AutoQuantize assume) is
// smallest — a multiple-choice knapsack, solved exactly by dynamic programming over Pareto
// frontiers of (bits, damage) pairs, unit by unit.
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "core/compress/sensitivity.h"

namespace quench {

struct MixedPrecision {
  std::vector<size_t> choice;  // per unit: the candidate index
  double average_bits = 0;     // over the units' weights
  double predicted_delta = 0;  // Σ damage of the choices
  double budget_bits = 0;
  // The recipe: one override per unit with its candidate's setting, in model order.
  nlohmann::json recipe(const SensitivityResult& s, const std::vector<SensitivityCandidate>& candidates, const std::string& name) const;
};

// Throws UsageError naming the smallest achievable average when the budget is below it.
MixedPrecision suggest_mixed_precision(const SensitivityResult& s, double budget_bits);

}  // namespace quench
