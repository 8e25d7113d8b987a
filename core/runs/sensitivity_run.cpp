#include "core/runs/sensitivity_run.h"

#include <sstream>

#include "core/compress/compress.h"
#include "core/io/atomic_file.h"
#include "core/runs/compress_run.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"

namespace quench {

nlohmann::json sensitivity_settings(const std::vector<SensitivityCandidate>& candidates, const SensitivityOptions& so,
                                    std::optional<double> budget, std::optional<double> budget_sparsity) {
  nlohmann::json cj = nlohmann::json::array();
  for (const auto& c : candidates) cj.push_back({{"name", c.name}, {"setting", c.setting}});
  nlohmann::json j = {{"candidates", cj}, {"metric", sensitivity_metric_name(so.metric)}, {"per_block", so.per_block}, {"layers", so.layers}};
  if (budget) j["budget"] = *budget;
  if (budget_sparsity) j["budget_sparsity"] = *budget_sparsity;
  return j;
}

namespace {
std::vector<LayerResult> unit_rows(const SensitivityResult& r, const std::vector<std::string>& kinds,
                                   const std::vector<SensitivityCandidate>& candidates) {
  const auto order = r.ranking(0);
  std::vector<size_t> rank(r.units.size());
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i + 1;
  std::vector<LayerResult> rows;
  for (size_t u = 0; u < r.units.size(); ++u) {
    const auto& unit = r.units[u];
    LayerResult lr;
    lr.layer = unit.name;
    lr.kind = kinds.at(u);
    nlohmann::json per = nlohmann::json::object();
    for (const auto& e : unit.entries)
      per[e.candidate] = {{"metric", e.metric}, {"delta", e.delta}, {"bits", e.bits}, {"density", e.density}};
    lr.settings = {{"rank", rank[u]}, {"candidate", candidates.front().name}, {"sensitivity", per}, {"layers", unit.layers}};
    lr.bits = unit.entries.front().bits;
    lr.params_before = lr.params_after = unit.weights;
    lr.weight_rel_mse = unit.entries.front().weight_rel_mse;
    rows.push_back(std::move(lr));
  }
  return rows;
}
}  // namespace

void record_sensitivity(ExperimentWriter& w, SensitivityRun& run, const std::vector<std::string>& kinds,
                        const std::vector<SensitivityCandidate>& candidates, int64_t eval_id, const SensitivityRunSpec& rs) {
  const SensitivityResult& r = run.result;
  std::vector<LayerResult> rows = unit_rows(r, kinds, candidates);
  if (rs.budget || rs.budget_sparsity) {
    run.mixed = rs.budget ? suggest_mixed_precision(r, *rs.budget) : suggest_mixed_precision(r, 1 - *rs.budget_sparsity, BudgetKind::Density);
    std::string name = rs.suggestion_name;
    if (name.empty()) {
      std::ostringstream s;
      if (rs.budget) s << "mixed-" << *rs.budget << "bits";
      else s << "layerwise-sparsity-" << *rs.budget_sparsity;
      name = s.str();
    }
    run.suggestion = run.mixed->recipe(r, candidates, name);
    for (size_t u = 0; u < r.units.size(); ++u) rows[u].settings["suggested"] = candidates[run.mixed->choice[u]].name;
  }
  w.add_layer_results(rows);
  w.add_metric(metric_names::float_of(sensitivity_metric_name(r.metric)), r.base, eval_id, "test");
  w.add_metric(metric_names::kSensitivityUnits, static_cast<double>(r.units.size()));
  w.add_metric(metric_names::kSensitivitySeconds, r.seconds);
  if (run.mixed) {
    w.add_metric(metric_names::kSuggestedBitsPerWeight, run.mixed->average_bits);
    w.add_metric(metric_names::kSuggestedSparsity, 1 - run.mixed->average_density);
    w.add_metric(metric_names::kSuggestedPredictedDelta, run.mixed->predicted_delta);
    if (!rs.suggestion_path.empty()) {
      write_file_atomic(rs.suggestion_path, run.suggestion.dump(2) + "\n");
      w.add_artifact(Artifact::of_file(rs.suggestion_path, "recipe"));
    }
  }
  w.finish();
}

SensitivityRun run_sensitivity(Store& store, Model& model, const std::vector<SensitivityCandidate>& candidates, const CalibrationSet& eval,
                               const CalibrationSet& calib, const SensitivityOptions& so, const SensitivityRunSpec& rs,
                               const Progress& progress) {
  ExperimentSpec spec;
  spec.name = rs.name;
  spec.kind = RunKind::Sensitivity;
  spec.model_id = store.add_model(model_record(model));
  spec.recipe = sensitivity_settings(candidates, so, rs.budget, rs.budget_sparsity);
  const int64_t eval_id = store.add_dataset(rs.eval);
  spec.datasets.push_back({eval_id, "eval"});
  if (rs.calib) spec.datasets.push_back({store.add_dataset(*rs.calib), "calib"});
  spec.device = rs.device;
  ExperimentWriter w = store.begin(spec);
  SensitivityRun run;
  run.experiment_id = w.id();
  try {
    run.result = sensitivity(model, candidates, eval, calib, so, with_heartbeat(w, progress));
    std::vector<std::string> kinds;
    for (const auto& u : run.result.units)
      kinds.push_back(u.layers.size() == 1 && u.name == u.layers.front() ? layer_kind_name(model.layer(u.name).kind()) : "block");
    record_sensitivity(w, run, kinds, candidates, eval_id, rs);
  } catch (...) {
    w.finish_with(std::current_exception());
    throw;
  }
  return run;
}

}  // namespace quench
