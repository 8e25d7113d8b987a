#pragma once
// Per-layer sensitivity (as in AIMET's QuantAnalyzer and ModelOpt's AutoQuantize, and HAWQ's
// premise): compress one layer (or one block) at a time with a candidate setting, everything else in
// float, and measure how much a metric moves against the float model — perplexity (scored as the
// change of mean NLL, which adds up across layers better than perplexity does), KL divergence of
// the output distributions from the float model's, or top-1 accuracy for classifiers.
// Each unit's forward restarts from the cached float input of its first block, so a layer late in
// the model costs a fraction of a full evaluation.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/compress/calibration_set.h"
#include "core/compress/recipe.h"
#include "core/util/progress.h"

namespace quench {

enum class SensitivityMetric { Perplexity, Kl, Top1 };
const char* sensitivity_metric_name(SensitivityMetric m);  // "perplexity", "kl", "top1"

// A setting to try: the body of a recipe override ({"weights": …, "activations": …} or
// {"scheme": "W4A16"}), with a short name for tables ("W3A16").
struct SensitivityCandidate {
  std::string name;
  nlohmann::json setting;
};
// "W4A16-G16" → {name, {"scheme": …}}; a JSON object text → {name given or its describe(), object}.
SensitivityCandidate candidate_from_string(const std::string& s);

struct SensitivityOptions {
  SensitivityMetric metric = SensitivityMetric::Perplexity;
  bool per_block = false;             // units are whole blocks instead of single layers
  std::vector<std::string> layers;    // globs restricting the units' layers (empty: what a recipe default reaches)
};

struct SensitivityEntry {
  std::string candidate;
  double metric = 0;       // perplexity, KL (nats) or top-1 with this unit compressed
  double delta = 0;        // damage: ΔNLL (nats), KL, or the drop in top-1 (≥ 0 means worse)
  double bits = 16;        // bits per weight of the unit under the candidate
  std::optional<double> weight_rel_mse, output_rel_mse;
  double density = 1;      // stored values per original weight (1 − sparsity; r·(out+in)/(out·in) for low rank)
};

struct SensitivityUnit {
  std::string name;                 // a layer, or a block prefix ("model.layers.3")
  std::vector<std::string> layers;  // what it compresses
  int64_t weights = 0;
  std::vector<SensitivityEntry> entries;  // one per candidate, in candidate order
};

struct SensitivityResult {
  SensitivityMetric metric = SensitivityMetric::Perplexity;
  double base = 0;      // the float model's metric
  double base_nll = 0;  // text: mean NLL of the float model
  std::vector<std::string> candidates;
  std::vector<SensitivityUnit> units;  // model order
  double seconds = 0;
  // Unit indices from most to least sensitive under candidate c.
  std::vector<size_t> ranking(size_t candidate = 0) const;
  nlohmann::json to_json() const;
};

// The units sensitivity() measures, in model order, without their entries: what a sweep splits into
// chunks (each chunk's layers passed back as SensitivityOptions::layers give the same units).
std::vector<SensitivityUnit> sensitivity_units(const Model& model, const SensitivityOptions& opts = {});

// eval: the windows or images the metric is measured on (CalibrationSet batches; text windows must
// hold T + 1 tokens: inputs and the last target). calib: for candidates that need calibration
// (GPTQ, AWQ, static activations); may be empty otherwise.
SensitivityResult sensitivity(Model& model, const std::vector<SensitivityCandidate>& candidates, const CalibrationSet& eval,
                              const CalibrationSet& calib, const SensitivityOptions& opts = {}, const Progress& progress = {});

}  // namespace quench
