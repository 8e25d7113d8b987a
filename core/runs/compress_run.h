#pragma once
// A compress experiment, recorded the same way whoever runs it (quench-cli compress, the GUI's
// compress job): the spec (model, recipe as written, calibration and evaluation datasets), then
// per-layer results, the size metrics, and the evaluation of the compressed model. Recipe and data
// errors must be found by the caller before this is called: it records as soon as it starts.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/compress/compress.h"
#include "core/eval/evaluate.h"
#include "core/export/compressed_tensors.h"
#include "core/export/gguf_export.h"
#include "core/store/store.h"

namespace quench {

struct CompressRunSpec {
  std::string name;
  std::string device;              // as recorded: "cpu", "cuda:0"
  DatasetRecord calib;             // samples set
  std::optional<DatasetRecord> eval_dataset;
  const EvalData* eval = nullptr;  // evaluate the compressed model on this (with eval_dataset)
  EvalOptions eval_options;
  Model* reference = nullptr;      // the float model, for fidelity metrics (kl, top1_agreement, logits_sqnr_db)
  CompressOptions options;
  // Where to save the compressed model (save_model.h), recorded as a "checkpoint" artifact; empty:
  // not saved. The caller checks saveable_reason() and check_save_target() before the run.
  std::string save_dir;
  // "safetensors" (a float checkpoint directory) or "gguf" (save_dir is the .gguf file; the caller
  // checks gguf_exportable() and check_gguf_target()).
  // "compressed-tensors": save_dir is a checkpoint directory vLLM loads (the caller checks
  // ct_exportable() and check_ct_target()).
  std::string save_format = "safetensors";
  GgufExportOptions gguf;
  CtExportOptions ct;
  // After saving, reopen what was written and compare its logits with the compressed model's on
  // the first this-many calibration samples (core/export/export_check.h); 0: no check.
  int64_t export_check_samples = 4;
  // Measure the compressed model's generation speed (eval_run.h's speed_metrics) with a prompt of
  // this many tokens; 0: not measured. Text models with a decoding cache.
  int64_t speed_prompt_tokens = 0;
  // Evaluate and measure speed with the 4-bit layers run from their packed integers
  // (core/runs/packed_execution.h) instead of the fake-quantized weights; the export, after, is the same.
  bool packed = false;
};

struct CompressRun {
  int64_t experiment_id = 0;
  CompressResult result;
  nlohmann::json metrics = nlohmann::json::object();  // name → value, as recorded
};

// Compresses `model` in place and records the run in `store`. A failure or Cancelled marks the
// run failed or cancelled and is rethrown.
CompressRun run_compress(Store& store, Model& model, const Recipe& recipe, const ResolvedRecipe& plan, const CalibrationSet& calib,
                         const CompressRunSpec& spec, const Progress& progress = {});

// Wraps a progress callback so that the run's heartbeat is refreshed every few seconds.
Progress with_heartbeat(ExperimentWriter& w, Progress progress);

}  // namespace quench
