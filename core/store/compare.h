#pragma once
// Side-by-side comparison of stored runs: metrics with deltas against the first run, and the
// per-layer diff (settings and errors that differ). Pure logic on ExperimentDetail; no SQL.
#include <optional>
#include <string>
#include <vector>

#include "core/store/records.h"

namespace quench {

struct MetricComparison {
  std::string name, dataset, split;
  std::vector<std::optional<double>> values;  // one per run, in the order given; nullopt: not recorded
  // values[i] − values[0], when both exist.
  std::optional<double> delta(size_t i) const;
};

struct LayerComparison {
  std::string layer;
  std::vector<std::optional<LayerResult>> results;  // one per run; nullopt: layer not recorded in that run
  std::vector<std::string> differing;               // fields (layer_result_fields()) that differ among the runs that have it
};

struct Comparison {
  std::vector<ExperimentSummary> experiments;
  std::vector<MetricComparison> metrics;
  std::vector<LayerComparison> layers;  // layers that differ or are missing from some run, in first-seen order
  size_t layers_total = 0;              // distinct layers across all runs
};

Comparison compare_experiments(const std::vector<ExperimentDetail>& runs);

}  // namespace quench
