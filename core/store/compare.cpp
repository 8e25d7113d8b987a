#include "core/store/compare.h"

#include <map>

#include "core/store/record_json.h"

namespace quench {

std::optional<double> MetricComparison::delta(size_t i) const {
  if (i >= values.size() || !values[0] || !values[i]) return std::nullopt;
  return *values[i] - *values[0];
}

Comparison compare_experiments(const std::vector<ExperimentDetail>& runs) {
  Comparison c;
  const size_t n = runs.size();
  for (const auto& r : runs) c.experiments.push_back(r.summary);

  std::map<std::tuple<std::string, std::string, std::string>, size_t> metric_row;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& m : runs[i].metrics) {
      const auto key = std::make_tuple(m.name, m.dataset, m.split);
      auto it = metric_row.find(key);
      if (it == metric_row.end()) {
        it = metric_row.emplace(key, c.metrics.size()).first;
        c.metrics.push_back({m.name, m.dataset, m.split, std::vector<std::optional<double>>(n)});
      }
      c.metrics[it->second].values[i] = m.value;
    }
  }

  std::map<std::string, size_t> layer_row;
  std::vector<LayerComparison> all;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& l : runs[i].layers) {
      auto it = layer_row.find(l.layer);
      if (it == layer_row.end()) {
        it = layer_row.emplace(l.layer, all.size()).first;
        all.push_back({l.layer, std::vector<std::optional<LayerResult>>(n), {}});
      }
      all[it->second].results[i] = l;
    }
  }
  c.layers_total = all.size();
  for (auto& row : all) {
    bool partial = false;
    for (const auto& r : row.results) partial |= !r;
    // Fields are compared among the runs that recorded the layer; absence is a difference of its own.
    for (const auto& f : layer_result_fields()) {
      std::optional<nlohmann::json> first;
      bool differs = false;
      for (size_t i = 0; i < n && !differs; ++i) {
        if (!row.results[i]) continue;
        const nlohmann::json v = f.get(*row.results[i]);
        if (!first)
          first = v;
        else
          differs = v != *first;
      }
      if (differs) row.differing.push_back(f.name);
    }
    if (partial || !row.differing.empty()) c.layers.push_back(std::move(row));
  }
  return c;
}

}  // namespace quench
