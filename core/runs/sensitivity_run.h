#pragma once
// A sensitivity experiment, recorded the same way by quench-cli sensitivity and the GUI's
// sensitivity job: one layer row per unit (its rank under the first candidate and every
// candidate's result), the float model's metric, and optionally a mixed-precision suggestion.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/compress/mixed_precision.h"
#include "core/compress/sensitivity.h"
#include "core/store/store.h"

namespace quench {

struct SensitivityRunSpec {
  std::string name;
  std::string device;
  DatasetRecord eval;                  // samples set
  std::optional<DatasetRecord> calib;  // when candidates need calibration
  std::optional<double> budget;        // bits per weight for a mixed-precision suggestion
  std::optional<double> budget_sparsity;  // or: overall sparsity for a layer-wise N:M suggestion (ELSA)
  std::string suggestion_name;  // the suggested recipe's name (default "mixed-<budget>bits" / "layerwise-sparsity-<p>")
  // Where to write the suggested recipe (recorded as an artifact); "" keeps it in the result only.
  std::string suggestion_path;
};

struct SensitivityRun {
  int64_t experiment_id = 0;
  SensitivityResult result;
  std::optional<MixedPrecision> mixed;
  nlohmann::json suggestion;  // the suggested recipe (with a budget)
};

// The settings the store keeps for a sensitivity run.
nlohmann::json sensitivity_settings(const std::vector<SensitivityCandidate>& candidates, const SensitivityOptions& opts,
                                    std::optional<double> budget, std::optional<double> budget_sparsity = std::nullopt);

// Records run.result into w (one row per unit, the float model's metric, the timing and, with a
// budget, the suggestion, which it sets in run) and finishes w. kinds: per unit, its layer kind
// ("linear") or "block". Shared by a run and by the merge of a sweep's sensitivity chunks.
void record_sensitivity(ExperimentWriter& w, SensitivityRun& run, const std::vector<std::string>& kinds,
                        const std::vector<SensitivityCandidate>& candidates, int64_t eval_id, const SensitivityRunSpec& rs);

SensitivityRun run_sensitivity(Store& store, Model& model, const std::vector<SensitivityCandidate>& candidates, const CalibrationSet& eval,
                               const CalibrationSet& calib, const SensitivityOptions& opts, const SensitivityRunSpec& spec,
                               const Progress& progress = {});

}  // namespace quench
