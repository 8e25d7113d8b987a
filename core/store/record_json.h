#pragma once
// JSON forms of the store's records (for `--json`, export and the GUI), and the one table of
// per-layer result fields that JSON, CSV and the comparison all walk.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/store/compare.h"
#include "core/store/records.h"

namespace quench {

struct LayerResultField {
  const char* name;
  nlohmann::json (*get)(const LayerResult&);  // null when not recorded
};
// kind, settings, bits, params_before, params_after, sparsity, rank, weight_rel_mse,
// weight_sqnr_db, output_rel_mse, output_sqnr_db.
const std::vector<LayerResultField>& layer_result_fields();

// Summary numbers of LayerStats by name (numel, min, max, absmax, mean, std, p99_99, kurtosis, outliers).
std::vector<std::pair<std::string, nlohmann::json>> layer_stats_numbers(const LayerStats& s);

void to_json(nlohmann::json& j, const ModelRecord& m);
void to_json(nlohmann::json& j, const DatasetRecord& d);
void to_json(nlohmann::json& j, const ExperimentSummary& e);
void to_json(nlohmann::json& j, const Metric& m);
void to_json(nlohmann::json& j, const LayerResult& r);
void to_json(nlohmann::json& j, const StatArray& a);  // {"dtype", "shape", "data": [numbers]}
void to_json(nlohmann::json& j, const LayerStats& s);
void to_json(nlohmann::json& j, const Artifact& a);
void to_json(nlohmann::json& j, const ExperimentDetail& d);
void to_json(nlohmann::json& j, const Comparison& c);

// Long ("tidy") CSV, one row per value: experiment_id, experiment, section, item, dataset, split,
// field, value. Sections: experiment, dataset, metric, layer, stats, artifact. Files of several
// experiments concatenate (same header) and pivot in a spreadsheet or pandas.
std::string csv_header();
std::string to_csv_rows(const ExperimentDetail& d);

}  // namespace quench
