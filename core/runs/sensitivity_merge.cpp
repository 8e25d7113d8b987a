#include "core/runs/sensitivity_merge.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/runs/sensitivity_run.h"
#include "core/store/metrics.h"

namespace quench {

namespace {

const ExperimentDataset* dataset_with_role(const ExperimentDetail& d, const std::string& role) {
  for (const auto& x : d.datasets)
    if (x.role == role) return &x;
  return nullptr;
}

std::optional<double> metric_value(const ExperimentDetail& d, const std::string& name) {
  for (const auto& m : d.metrics)
    if (m.name == name) return m.value;
  return std::nullopt;
}

ExperimentDetail chunk_run(const std::string& path) {
  const Store s = Store::open_read_only(path);
  ListFilter f;
  f.kind = RunKind::Sensitivity;
  const auto runs = s.list(f);
  QUENCH_CHECK(runs.size() == 1, path, ": a sensitivity chunk holds one sensitivity run, this one ", runs.size());
  QUENCH_CHECK(runs.front().status == RunStatus::Completed, path, ": its sensitivity run #", runs.front().id, " is ",
               status_name(runs.front().status), ", not completed", runs.front().error.empty() ? "" : " (" + runs.front().error + ")");
  return s.get(runs.front().id);
}

// The unit of one layer row as run_sensitivity recorded it.
SensitivityUnit unit_of(const std::string& path, const LayerResult& row, const std::vector<std::string>& candidates) {
  SensitivityUnit u;
  u.name = row.layer;
  QUENCH_CHECK(row.settings.contains("layers") && row.settings.contains("sensitivity"), path, ": layer row '", row.layer,
               "' is not a sensitivity unit (no 'layers' or 'sensitivity' in its settings)");
  // JSON has no infinity: a candidate that wrecked the model (perplexity overflowed) was stored as null.
  auto number = [&](const nlohmann::json& v, const std::string& c, const char* key) {
    if (v.is_null()) return std::numeric_limits<double>::infinity();
    QUENCH_CHECK(v.is_number(), path, ": unit '", row.layer, "', candidate '", c, "': '", key, "' is not a number (", v.dump(), ")");
    return v.get<double>();
  };
  try {
    u.layers = row.settings["layers"].get<std::vector<std::string>>();
    u.weights = row.params_before.value_or(0);
    for (const auto& c : candidates) {
      const auto& per = row.settings["sensitivity"];
      QUENCH_CHECK(per.contains(c), path, ": unit '", row.layer, "' has no result for candidate '", c, "'");
      SensitivityEntry e;
      e.candidate = c;
      e.metric = number(per[c].at("metric"), c, "metric");
      e.delta = number(per[c].at("delta"), c, "delta");
      e.bits = number(per[c].at("bits"), c, "bits");
      e.density = per[c].contains("density") ? number(per[c]["density"], c, "density") : 1.0;
      u.entries.push_back(e);
    }
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": layer row '", row.layer, "' is not a sensitivity unit as Quench records one (", e.what(), ")");
  }
  u.entries.front().weight_rel_mse = row.weight_rel_mse;
  return u;
}

std::vector<SensitivityCandidate> candidates_of(const ExperimentDetail& r, const std::string& origin) {
  std::vector<SensitivityCandidate> candidates;
  try {
    for (const auto& c : r.recipe.at("candidates")) candidates.push_back({c.at("name").get<std::string>(), c.at("setting")});
  } catch (const nlohmann::json::exception& e) {
    fail(origin, ": its sensitivity run's recipe names no candidates as Quench records them (", e.what(), ")");
  }
  QUENCH_CHECK(!candidates.empty(), origin, ": its sensitivity run tried no candidates");
  return candidates;
}

}  // namespace

StoredSensitivity read_sensitivity(const ExperimentDetail& r, const std::string& origin) {
  QUENCH_CHECK(r.summary.kind == RunKind::Sensitivity, origin, " is a ", run_kind_name(r.summary.kind), " run, not a sensitivity run");
  StoredSensitivity out;
  out.candidates = candidates_of(r, origin);
  const std::string metric = r.recipe.value("metric", metric_names::kPerplexity);
  out.result.metric = metric == metric_names::kKl ? SensitivityMetric::Kl : metric == metric_names::kTop1 ? SensitivityMetric::Top1 : SensitivityMetric::Perplexity;
  out.result.base = metric_value(r, metric_names::float_of(metric)).value_or(0);
  for (const auto& c : out.candidates) out.result.candidates.push_back(c.name);
  for (const auto& row : r.layers) out.result.units.push_back(unit_of(origin, row, out.result.candidates));
  QUENCH_CHECK(!out.result.units.empty(), origin, ": its sensitivity run has no units");
  return out;
}

int64_t merge_sensitivity_chunks(Store& dest, const std::vector<std::string>& chunk_dbs, const SensitivityMergeSpec& ms) {
  QUENCH_CHECK(!chunk_dbs.empty(), "merging a sensitivity analysis: no chunks given");
  std::vector<ExperimentDetail> runs;
  for (const auto& p : chunk_dbs) runs.push_back(chunk_run(p));
  const ExperimentDetail& first = runs.front();
  QUENCH_CHECK(first.model, chunk_dbs.front(), ": its sensitivity run names no model");
  const ExperimentDataset* eval = dataset_with_role(first, "eval");
  QUENCH_CHECK(eval, chunk_dbs.front(), ": its sensitivity run names no evaluation data");
  const std::string metric = first.recipe.value("metric", metric_names::kPerplexity);
  const std::optional<double> base = metric_value(first, metric_names::float_of(metric));
  QUENCH_CHECK(base, chunk_dbs.front(), ": no ", metric, "_float metric");

  const std::vector<SensitivityCandidate> candidates = candidates_of(first, chunk_dbs.front());
  std::vector<std::string> names;
  for (const auto& c : candidates) names.push_back(c.name);

  SensitivityRun run;
  run.result.metric = metric == metric_names::kKl ? SensitivityMetric::Kl : metric == metric_names::kTop1 ? SensitivityMetric::Top1 : SensitivityMetric::Perplexity;
  run.result.base = *base;
  run.result.candidates = names;
  std::vector<std::string> kinds;
  std::set<std::string> seen;
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    const std::string& path = chunk_dbs[i];
    // Chunks of one analysis measured the same thing; anything else would rank apples against pears.
    QUENCH_CHECK(r.model && r.model->content_hash == first.model->content_hash, path, ": measured another model than ",
                 chunk_dbs.front());
    const ExperimentDataset* e = dataset_with_role(r, "eval");
    QUENCH_CHECK(e && e->dataset.content_hash == eval->dataset.content_hash && e->dataset.samples == eval->dataset.samples, path,
                 ": measured on other evaluation data than ", chunk_dbs.front());
    QUENCH_CHECK(r.recipe.value("candidates", nlohmann::json()) == first.recipe.at("candidates") && r.recipe.value("metric", "") == metric &&
                     r.recipe.value("per_block", false) == first.recipe.value("per_block", false),
                 path, ": tried other candidates, metric or units than ", chunk_dbs.front());
    const std::optional<double> b = metric_value(r, metric_names::float_of(metric));
    // The float model on the same data gives the same number; a difference means another build or device.
    QUENCH_CHECK(b && std::abs(*b - *base) <= 1e-9 * std::max(1.0, std::abs(*base)), path, ": the float model's ", metric, " is ",
                 b ? std::to_string(*b) : "missing", ", not ", std::to_string(*base), " as in ", chunk_dbs.front());
    run.result.seconds += metric_value(r, metric_names::kSensitivitySeconds).value_or(0);
    for (const auto& row : r.layers) {
      QUENCH_CHECK(seen.insert(row.layer).second, path, ": unit '", row.layer, "' is also in an earlier chunk");
      run.result.units.push_back(unit_of(path, row, names));
      kinds.push_back(row.kind);
    }
  }

  ExperimentSpec spec;
  spec.name = ms.name;
  spec.kind = RunKind::Sensitivity;
  ModelRecord model = *first.model;
  model.id = 0;
  spec.model_id = dest.add_model(model);
  spec.recipe = first.recipe;
  spec.recipe.erase("budget");  // the chunks' own budgets (if any) were over their units only
  spec.recipe.erase("budget_sparsity");
  spec.recipe["layers"] = ms.layers;
  if (ms.budget) spec.recipe["budget"] = *ms.budget;
  if (ms.budget_sparsity) spec.recipe["budget_sparsity"] = *ms.budget_sparsity;
  spec.recipe["merged_from_chunks"] = chunk_dbs.size();
  for (const auto& d : first.datasets) {
    DatasetRecord rec = d.dataset;
    rec.id = 0;
    spec.datasets.push_back({dest.add_dataset(rec), d.role});
  }
  int64_t eval_id = 0;
  for (const auto& d : spec.datasets)
    if (d.role == "eval") eval_id = d.dataset_id;
  spec.device = first.summary.device;
  ExperimentWriter w = dest.begin(spec);
  run.experiment_id = w.id();
  SensitivityRunSpec rs;
  rs.budget = ms.budget;
  rs.budget_sparsity = ms.budget_sparsity;
  rs.suggestion_path = ms.suggestion_path;
  try {
    record_sensitivity(w, run, kinds, candidates, eval_id, rs);
  } catch (...) {
    w.finish_with(std::current_exception());
    throw;
  }
  // Its duration is the chunks' span (ISO times sort as text), not the few milliseconds of merging.
  std::string started = first.summary.started_at, finished;
  for (const auto& r : runs) {
    started = std::min(started, r.summary.started_at);
    finished = std::max(finished, r.summary.finished_at.value_or(""));
  }
  if (!started.empty() && started <= finished) dest.set_span(run.experiment_id, started, finished);
  return run.experiment_id;
}

}  // namespace quench
