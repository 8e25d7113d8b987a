#pragma once
// An evaluate experiment (perplexity or top-1/top-5 of a model as it is), recorded the same way by
// quench-cli eval and the GUI's evaluate job: the baseline that compress runs are compared with.
#include <cstdint>
#include <optional>
#include <string>

#include "core/eval/evaluate.h"
#include "core/runs/generate.h"
#include "core/store/store.h"

namespace quench {

struct EvalRunSpec {
  std::string name;
  std::string device;
  DatasetRecord dataset;  // samples set
  nlohmann::json settings = nlohmann::json::object();  // recorded as the recipe: {"eval": {...}}
  // Also measure generation speed (prefill of a --ctx prompt, decoding at batch 1 and 16) and
  // record it: prefill_tokens_per_second, decode_tokens_per_second(_b16). Text models with a cache.
  bool speed = false;
};

struct EvalRun {
  int64_t experiment_id = 0;
  EvalResult result;
  std::optional<SpeedResult> speed;
};

// The metrics a speed measurement is recorded as (the table's names).
std::vector<std::pair<std::string, double>> speed_metrics(const SpeedResult& s);

// The {"eval": {...}} settings the store keeps for an evaluation.
nlohmann::json eval_settings(const EvalOptions& o, at::ScalarType dtype);

EvalRun run_evaluation(Store& store, Model& model, const EvalData& data, const EvalOptions& options, const EvalRunSpec& spec,
                       const Progress& progress = {});

}  // namespace quench
