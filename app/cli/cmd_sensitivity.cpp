#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/job_inputs.h"
#include "app/cli/progress_printer.h"
#include "app/cli/record.h"
#include "core/compress/compress.h"
#include "core/compress/mixed_precision.h"
#include "core/compress/schemes.h"
#include "core/compress/sensitivity.h"
#include "core/io/atomic_file.h"
#include "core/export/gguf_import.h"
#include "core/models/registry.h"
#include "core/runs/sensitivity_run.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"
#include "core/store/store.h"
#include "core/util/error.h"

namespace quench::cli {

namespace {
// The setting with its weights at another bit width (for the default candidate set).
SensitivityCandidate with_bits(const SensitivityCandidate& c, int bits) {
  nlohmann::json s = c.setting;
  nlohmann::json weights;
  if (s.contains("scheme")) {
    auto ex = expand_scheme(s["scheme"].get<std::string>());
    QUENCH_CHECK(ex, "unknown scheme ", s["scheme"].dump());
    weights = ex->weights;
    if (!s.contains("activations")) s["activations"] = ex->activations;
    s.erase("scheme");
  }
  if (s.contains("weights") && s["weights"].is_object())
    for (auto it = s["weights"].begin(); it != s["weights"].end(); ++it) weights[it.key()] = it.value();
  if (weights.is_null()) throw UsageError("--budget without --candidates needs a --setting that quantizes weights");
  weights["bits"] = bits;
  s["weights"] = weights;
  SensitivityCandidate out;
  out.setting = s;
  out.name = parse_weight_quant(weights, "setting.weights").describe();
  return out;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

int cmd_sensitivity(const Argv& argv) {
  Args a("sensitivity",
         "Compresses one layer (or one block, --per-block) at a time, everything else in float, and measures how much\n"
         "the metric moves: perplexity (ranked by the change of mean NLL), KL from the float model, or the drop in top-1.\n"
         "Records a `sensitivity` experiment: one row per unit with its rank and every candidate's result.");
  a.positional("MODEL_DIR", "the model folder, or a .gguf file (converted once into a checkpoint)");
  a.option("setting", "SETTING",
           "what to try on each unit: a scheme (W4A16-G16, W8A8) or a JSON object as in a recipe override "
           "('{\"weights\": {\"bits\": 3, \"strategy\": \"channel\"}}'); a JSON object may carry a \"name\"")
      ->required();
  a.option("candidates", "S1,S2,...",
           "more settings to try, comma-separated schemes (a JSON object: --candidate). With --budget and no "
           "candidates, the setting's weights at 3, 4 and 8 bits (and its own bits) are tried");
  a.repeated("candidate", "JSON", "one more setting to try, a JSON object as --setting takes it");
  a.option("metric", "perplexity|kl|top1",
           "what the damage is measured in (default perplexity for language models, top1 for image classifiers)");
  a.flag("per-block", "compress one block at a time instead of one layer");
  a.option("layers", "GLOB,...",
           "restrict the units to layers matching these comma-separated globs (default: what a recipe default "
           "reaches: Linear and Conv2d layers except the output head)");
  a.option("budget", "BITS",
           "average bits per weight over the units for the mixed-precision suggestion (multiple-choice knapsack on "
           "the measured damage). Candidates may prune or factor ('{\"prune\": {\"pattern\": \"2:4\"}}'): their "
           "bits count as the size estimate does");
  a.option("budget-sparsity", "P",
           "instead of --budget: the average fraction of weights removed over the units (layer-wise N:M as ELSA "
           "chooses it: candidates such as 1:4, 2:4, 4:4 patterns, the least measured damage at that sparsity)");
  a.option("suggest", "OUT.json",
           "write the suggestion of --budget or --budget-sparsity as a recipe for `quench-cli compress`");
  add_evaluation_options(a, "each unit's damage (--metric) is measured on it");
  a.one_of({"eval", "eval-images", "eval-image-folder"}, true,
           "--eval FILE (text), --eval-images IDX --eval-labels IDX or --eval-image-folder DIR (images)");
  // Sensitivity measures on a sample of the evaluation data: without --max-windows or --max-images (or with 0),
  // load_evaluation_batches keeps 16 windows or 256 images, not all of them.
  a.declared("max-windows")->description("text windows the damage is measured on (0: the default)")->default_str("16");
  a.declared("max-images")->description("images the damage is measured on (0: the default)")->default_str("256");
  add_calibration_options(a, 32, 128);
  add_device_options(a);
  a.flag("json", "one JSON object: {experiment_id, metric, base, candidates, units, ranking, suggestion}");
  add_record_options(a, RunKind::Sensitivity);
  a.declared("name")->description("the experiment's name (default \"sensitivity <the setting's name>\")");
  a.footer("Calibration data (--calib, --calib-images or --calib-image-folder) is needed only for GPTQ/AWQ or\n"
           "static-activation settings.");
  if (!a.parse(argv)) return 0;
  const std::string dir = resolve_model_path(a.positional()[0]);  // a .gguf file: its converted checkpoint
  LoadOptions lo;
  lo.device = parse_device(*a.get("device"));
  lo.dtype = parse_dtype(*a.get("dtype"));
  const std::optional<double> budget = a.given("budget") ? std::optional<double>(a.get_double("budget")) : std::nullopt;
  if (budget && !(*budget > 0)) throw UsageError("--budget must be a positive number of bits");
  const std::optional<double> sparsity =
      a.given("budget-sparsity") ? std::optional<double>(a.get_double("budget-sparsity")) : std::nullopt;
  if (sparsity && !(*sparsity >= 0 && *sparsity < 1)) throw UsageError("--budget-sparsity must be at least 0 and below 1");
  // Checked here, not declared with excludes(): the parser's "exclude each other" would not say which one counts
  // bits, and tests/cli/prune_cli_test.cpp asserts this message.
  if (sparsity && budget) throw UsageError("give --budget (bits) or --budget-sparsity, not both");
  if (a.given("suggest") && !budget && !sparsity) throw UsageError("--suggest needs --budget or --budget-sparsity");

  std::vector<SensitivityCandidate> candidates;
  candidates.push_back(candidate_from_string(a.require("setting")));
  for (const auto& c : split_commas(a.get("candidates", ""))) candidates.push_back(candidate_from_string(c));
  for (const auto& c : a.get_all("candidate")) candidates.push_back(candidate_from_string(c));
  if (sparsity && candidates.size() == 1) throw UsageError("--budget-sparsity needs --candidates to choose among (e.g. patterns 1:4, 2:4, 4:4)");
  if (budget && candidates.size() == 1) {
    std::set<int> bits = {3, 4, 8};
    for (int b : bits) candidates.push_back(with_bits(candidates.front(), b));
  }
  // Drop repeats (same setting), keeping the first.
  std::vector<SensitivityCandidate> unique;
  for (const auto& c : candidates) {
    bool dup = false;
    for (const auto& u : unique) dup = dup || u.setting == c.setting || u.name == c.name;
    if (!dup) unique.push_back(c);
  }
  candidates = unique;

  SensitivityOptions so;
  const std::string metric = a.get("metric", "");
  so.per_block = a.flag("per-block");
  so.layers = split_commas(a.get("layers", ""));

  auto model = load_model(dir, lo);
  if (metric.empty()) so.metric = model->modality() == Modality::Text ? SensitivityMetric::Perplexity : SensitivityMetric::Top1;
  else if (metric == metric_names::kPerplexity || metric == "ppl") so.metric = SensitivityMetric::Perplexity;
  else if (metric == metric_names::kKl) so.metric = SensitivityMetric::Kl;
  else if (metric == metric_names::kTop1) so.metric = SensitivityMetric::Top1;
  else throw UsageError("--metric must be perplexity, kl or top1");
  DataInfo eval_info, calib_info;
  auto eval = load_evaluation_batches(a, dir, model->modality(), &eval_info, model->modality() == Modality::Text ? 16 : 256);
  if (!eval) throw UsageError("missing evaluation data: --eval FILE (text) or --eval-images IDX --eval-labels IDX (images)");
  auto calib = load_calibration(a, dir, model->modality(), &calib_info, model->modality() == Modality::Text ? 32 : 128);
  const CalibrationSet no_calib;

  StoreOrScratch db(a);
  Store& store = db.store();
  const bool record = db.recorded();
  SensitivityRunSpec rs;
  rs.name = a.get("name", "sensitivity " + candidates.front().name);
  rs.device = *a.get("device");
  rs.eval = dataset_record(eval_info.path, eval_info.kind);
  rs.eval.samples = eval_info.samples;
  if (calib) {
    rs.calib = dataset_record(calib_info.path, calib_info.kind);
    rs.calib->samples = calib_info.samples;
  }
  rs.budget = budget;
  rs.budget_sparsity = sparsity;
  rs.suggestion_path = a.get("suggest", "");
  const SensitivityRun run = run_sensitivity(store, *model, candidates, *eval, calib ? *calib : no_calib, so, rs,
                                             terminal_progress("sensitivity"));
  const SensitivityResult& r = run.result;
  const std::optional<MixedPrecision>& mp = run.mixed;
  const nlohmann::json& suggestion = run.suggestion;

  const auto order = r.ranking(0);
  if (a.flag("json")) {
    nlohmann::json j = r.to_json();
    j["experiment_id"] = record ? nlohmann::json(run.experiment_id) : nlohmann::json();
    j["ranking"] = nlohmann::json::array();
    for (size_t i : order) j["ranking"].push_back(r.units[i].name);
    if (mp)
      j["suggestion"] = {{"recipe", suggestion},
                         {"average_bits", mp->average_bits},
                         {"average_sparsity", 1 - mp->average_density},
                         {"predicted_delta", mp->predicted_delta}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::vector<std::string> header = {"rank", "unit"};
  std::vector<bool> right = {true, false};
  for (const auto& c : candidates) {
    header.push_back((so.metric == SensitivityMetric::Perplexity ? "ΔNLL " : so.metric == SensitivityMetric::Kl ? "KL " : "Δtop1 ") + c.name);
    right.push_back(true);
  }
  if (mp) {
    header.push_back("suggested");
    right.push_back(false);
  }
  Table t(header, right);
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& u = r.units[order[i]];
    std::vector<std::string> row = {std::to_string(i + 1), u.name};
    for (const auto& e : u.entries) row.push_back(fixed(e.delta, 5));
    if (mp) row.push_back(candidates[mp->choice[order[i]]].name);
    t.add(row);
  }
  std::cout << t.str();
  std::cout << "experiment  " << (record ? "#" + std::to_string(run.experiment_id) + " (" + store.path() + ")" : "not recorded (--no-record)") << "\n"
            << sensitivity_metric_name(so.metric) << " of the float model " << fixed(r.base, 4) << "\n";
  if (mp) {
    std::cout << "suggestion  " << fixed(mp->average_bits, 3) << " bits/weight, sparsity " << fixed(1 - mp->average_density, 3) << " (budget "
              << (budget ? fixed(*budget, 3) + " bits" : "sparsity " + fixed(*sparsity, 3)) << "), predicted damage " << fixed(mp->predicted_delta, 5)
              << "\n";
    if (auto out = a.get("suggest")) std::cout << "recipe      " << *out << "\n";
  }
  std::cout << "seconds     " << fixed(r.seconds, 1) << "\n";
  return 0;
}

}  // namespace quench::cli
