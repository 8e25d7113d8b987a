#include "core/compress/mixed_precision.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/util/error.h"

namespace quench {

MixedPrecision suggest_mixed_precision(const SensitivityResult& s, double budget_per_weight, BudgetKind kind) {
  QUENCH_CHECK(!s.units.empty(), "mixed precision: no sensitivity units");
  auto cost_of = [kind](const SensitivityEntry& e) { return kind == BudgetKind::Bits ? e.bits : e.density; };
  double total_weights = 0, min_bits = 0;
  for (const auto& u : s.units) {
    QUENCH_CHECK(!u.entries.empty(), "mixed precision: unit ", u.name, " has no measured candidate");
    total_weights += static_cast<double>(u.weights);
    double m = std::numeric_limits<double>::infinity();
    for (const auto& e : u.entries) m = std::min(m, cost_of(e) * static_cast<double>(u.weights));
    min_bits += m;
  }
  const double budget = budget_per_weight * total_weights * (1 + 1e-12);
  if (min_bits > budget) {
    std::ostringstream m;
    if (kind == BudgetKind::Bits)
      m << "a budget of " << budget_per_weight << " bits per weight is below the smallest the candidates reach (" << min_bits / total_weights << ")";
    else
      m << "a sparsity budget of " << 1 - budget_per_weight << " is above the largest the candidates reach (" << 1 - min_bits / total_weights << ")";
    throw UsageError(m.str());
  }
  // Exact multiple-choice knapsack over Pareto frontiers: after each unit, the (bits, damage)
  // pairs no other pair beats on both, with a back-pointer to trace the choices.
  struct Point {
    double bits, damage;
    int64_t parent;  // index into the previous frontier's trace
    int choice;
  };
  std::vector<std::vector<Point>> trace;
  std::vector<Point> frontier = {{0.0, 0.0, -1, -1}};
  for (const auto& unit : s.units) {
    std::vector<Point> next;
    for (size_t i = 0; i < frontier.size(); ++i)
      for (size_t c = 0; c < unit.entries.size(); ++c) {
        const double b = frontier[i].bits + cost_of(unit.entries[c]) * static_cast<double>(unit.weights);
        if (b <= budget) next.push_back({b, frontier[i].damage + unit.entries[c].delta, static_cast<int64_t>(i), static_cast<int>(c)});
      }
    std::sort(next.begin(), next.end(), [](const Point& a, const Point& b) { return a.bits < b.bits || (a.bits == b.bits && a.damage < b.damage); });
    std::vector<Point> pruned;
    for (const auto& p : next)
      if (pruned.empty() || p.damage < pruned.back().damage) pruned.push_back(p);
    // Frontiers stay small in practice (distinct bit totals with falling damage); past this size
    // keep every k-th point, which can only miss solutions, never break the budget.
    constexpr size_t kMax = 200000;
    if (pruned.size() > kMax) {
      std::vector<Point> thin;
      const size_t k = pruned.size() / kMax + 1;
      for (size_t i = 0; i < pruned.size(); i += k) thin.push_back(pruned[i]);
      if (thin.back().bits != pruned.back().bits) thin.push_back(pruned.back());
      pruned = std::move(thin);
    }
    trace.push_back(frontier);
    frontier = std::move(pruned);
  }
  QUENCH_CHECK(!frontier.empty(), "mixed precision: no assignment fits the budget");
  // The least damage is the last point of the frontier (damage falls as bits grow).
  MixedPrecision mp;
  mp.budget_bits = budget_per_weight;
  mp.kind = kind;
  mp.choice.assign(s.units.size(), 0);
  const Point* p = &frontier.back();
  mp.predicted_delta = p->damage;
  for (size_t u = s.units.size(); u-- > 0;) {
    mp.choice[u] = static_cast<size_t>(p->choice);
    if (u > 0) p = &trace[u][static_cast<size_t>(p->parent)];
  }
  double bits = 0, kept = 0;
  for (size_t u = 0; u < s.units.size(); ++u) {
    bits += s.units[u].entries[mp.choice[u]].bits * static_cast<double>(s.units[u].weights);
    kept += s.units[u].entries[mp.choice[u]].density * static_cast<double>(s.units[u].weights);
  }
  mp.average_bits = bits / total_weights;
  mp.average_density = kept / total_weights;
  return mp;
}

nlohmann::json MixedPrecision::recipe(const SensitivityResult& s, const std::vector<SensitivityCandidate>& candidates,
                                      const std::string& name) const {
  nlohmann::json r;
  r["name"] = name;
  std::ostringstream d;
  if (kind == BudgetKind::Bits)
    d << "mixed precision within " << budget_bits << " bits per weight (average " << average_bits << ")";
  else
    d << "layer-wise settings within a sparsity of " << 1 - budget_bits << " (average " << 1 - average_density << ")";
  d << " from " << sensitivity_metric_name(s.metric) << " sensitivities; predicted damage " << predicted_delta;
  r["description"] = d.str();
  r["overrides"] = nlohmann::json::array();
  for (size_t u = 0; u < s.units.size(); ++u) {
    nlohmann::json o = candidates.at(choice[u]).setting;
    o["match"] = s.units[u].layers.size() == 1 ? nlohmann::json(s.units[u].layers.front()) : nlohmann::json(s.units[u].layers);
    r["overrides"].push_back(o);
  }
  return r;
}

}  // namespace quench
