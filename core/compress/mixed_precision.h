#pragma once
// A mixed-precision recipe from measured sensitivities: choose one candidate per unit so that the
// average bits per weight over the units (or the average density: stored values per weight, for a
// sparsity budget as ELSA's layer-wise N:M search sets it) stays within a budget and the summed damage (ΔNLL, KL or
// top-1 drop, assumed additive across units as HAWQ-V3 and ModelOpt's AutoQuantize assume) is
// smallest — a multiple-choice knapsack, solved exactly by dynamic programming over Pareto
// frontiers of (bits, damage) pairs, unit by unit.
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "core/compress/sensitivity.h"

namespace quench {

// What the budget limits: bits per weight (every candidate: quantization, pruning, low rank, as the
// size estimate counts them), or density, the fraction of weights kept (a sparsity budget of p is
// a density budget of 1 − p).
enum class BudgetKind { Bits, Density };

struct MixedPrecision {
  std::vector<size_t> choice;  // per unit: the candidate index
  BudgetKind kind = BudgetKind::Bits;
  double average_bits = 0;     // over the units' weights
  double average_density = 1;  // over the units' weights
  double predicted_delta = 0;  // Σ damage of the choices
  double budget_bits = 0;      // the budget, in bits or as a density
  // The recipe: one override per unit with its candidate's setting, in model order.
  nlohmann::json recipe(const SensitivityResult& s, const std::vector<SensitivityCandidate>& candidates, const std::string& name) const;
};

// Throws UsageError naming the smallest achievable average when the budget is below it.
MixedPrecision suggest_mixed_precision(const SensitivityResult& s, double budget, BudgetKind kind = BudgetKind::Bits);

}  // namespace quench
