#include "core/runs/compress_run.h"
#include "core/runs/eval_run.h"

#include <chrono>
#include <filesystem>
#include <optional>

#include "core/compress/save_model.h"
#include "core/export/export_check.h"
#include "core/ops/gpu_memory.h"
#include "core/runs/packed_execution.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"

namespace quench {

namespace {

// A file's size, or the sum over a directory's files: what an export occupies.
uint64_t bytes_on_disk(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(path, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}
}  // namespace

Progress with_heartbeat(ExperimentWriter& w, Progress progress) {
  auto last_beat = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [&w, progress = std::move(progress), last_beat](int64_t done, int64_t total, double eta, const std::string& msg) {
    if (std::chrono::steady_clock::now() - *last_beat > std::chrono::seconds(5)) {
      w.heartbeat();
      *last_beat = std::chrono::steady_clock::now();
    }
    return progress ? progress(done, total, eta, msg) : true;
  };
}

CompressRun run_compress(Store& store, Model& model, const Recipe& recipe, const ResolvedRecipe& plan, const CalibrationSet& calib,
                         const CompressRunSpec& rs, const Progress& progress) {
  ExperimentSpec spec;
  spec.name = rs.name;
  spec.kind = RunKind::Compress;
  spec.model_id = store.add_model(model_record(model));
  spec.recipe = recipe.json;
  spec.datasets.push_back({store.add_dataset(rs.calib), "calib"});
  std::optional<int64_t> eval_dataset;
  if (rs.eval && rs.eval_dataset) {
    eval_dataset = store.add_dataset(*rs.eval_dataset);
    spec.datasets.push_back({*eval_dataset, "eval"});
  }
  spec.device = rs.device;
  ExperimentWriter w = store.begin(spec);
  CompressRun run;
  run.experiment_id = w.id();
  try {
    const Progress beat = with_heartbeat(w, progress);
    reset_gpu_memory_peak(model.device());
    run.result = compress(model, plan, calib, rs.options, beat);
    w.add_layer_results(run.result.layers);
    auto add = [&](const std::string& name, double v, std::optional<int64_t> ds = std::nullopt, const std::string& split = "") {
      w.add_metric(name, v, ds, split);
      run.metrics[name] = v;
    };
    const SizeEstimate& size = run.result.size;
    add(metric_names::kSizeBytes, static_cast<double>(size.bytes));
    add(metric_names::kBitsPerWeight, size.bits_per_weight);
    add(metric_names::kQuantizedBitsPerWeight, size.quantized_bits_per_weight);
    add(metric_names::kCompression, size.compression());
    if (!plan.kv.empty()) add(metric_names::kKvBitsPerElement, size.kv_bits_per_element);
    add(metric_names::kCompressSeconds, run.result.seconds);
    if (plan.structured) add(metric_names::kParameters, static_cast<double>(size.stored_params));
    std::optional<PackedExecution> packed;
    if (rs.packed) {
      packed.emplace(model);
      add(metric_names::kPackedLayers, static_cast<double>(packed->packed()));
      run.result.details["packed"] = packed->summary();
    }
    if (rs.eval) {
      const EvalResult r = evaluate(model, *rs.eval, rs.eval_options, rs.reference, beat);
      add(r.metric, r.value, eval_dataset, "test");
      if (r.metric == metric_names::kPerplexity) add(metric_names::kNll, r.nll, eval_dataset, "test");
      else add(metric_names::kTop5, r.top5, eval_dataset, "test");
      if (r.fidelity) {
        add(metric_names::kKl, r.fidelity->kl, eval_dataset, "test");
        add(metric_names::kTop1Agreement, r.fidelity->top1_agreement, eval_dataset, "test");
        add(metric_names::kLogitsSqnrDb, r.fidelity->sqnr_db, eval_dataset, "test");
      }
      add(metric_names::kEvalSeconds, r.seconds);
    }
    if (rs.speed_prompt_tokens > 0)
      for (const auto& [name, value] : speed_metrics(measure_speed(model, rs.speed_prompt_tokens, {1, 16}))) add(name, value);
    // What the allocator held at its peak (the loaded weights included), over compression,
    // evaluation and speed: on CUDA only.
    if (const auto m = gpu_memory(model.device())) add(metric_names::kPeakGpuMemoryMib, static_cast<double>(m->peak_reserved) / (1024.0 * 1024.0));
    packed.reset();  // the export and its check read the compressed model as it is recorded
    const auto export_start = std::chrono::steady_clock::now();
    if (!rs.save_dir.empty() && rs.save_format == "gguf") {
      GgufExportOptions go = rs.gguf;
      go.progress = [&](int64_t done, int64_t total) {
        if (beat && !beat(done, total, -1, "writing " + rs.save_dir)) throw Cancelled();
      };
      for (std::string& note : export_gguf(model, rs.save_dir, go)) run.result.warnings.push_back(std::move(note));
      w.add_artifact(Artifact::of_file(rs.save_dir, "gguf"));
    } else if (!rs.save_dir.empty() && rs.save_format == "compressed-tensors") {
      CtExportOptions co = rs.ct;
      co.static_inputs = run.result.static_inputs;
      co.kv_scales = run.result.kv_scales;
      co.progress = [&](int64_t done, int64_t total) {
        if (beat && !beat(done, total, -1, "writing " + rs.save_dir)) throw Cancelled();
      };
      export_compressed_tensors(model, plan, rs.save_dir, co);
      w.add_artifact(Artifact::of_file(rs.save_dir + "/config.json", "checkpoint"));
    } else if (!rs.save_dir.empty()) {
      save_model(model, rs.save_dir);
      w.add_artifact(Artifact::of_file(rs.save_dir + "/model.safetensors", "checkpoint"));
    }
    if (!rs.save_dir.empty()) {
      add(metric_names::kExportSeconds, std::chrono::duration<double>(std::chrono::steady_clock::now() - export_start).count());
      add(metric_names::kExportBytes, static_cast<double>(bytes_on_disk(rs.save_dir)));
      const bool large_gguf = rs.save_format == "gguf" && model.parameter_count() > kExportCheckReopenMaxParams;
      if (rs.export_check_samples > 0 && large_gguf) {
        if (beat && !beat(0, 1, -1, "checking " + rs.save_dir)) throw Cancelled();
        const WeightCheck c = check_export_weights(model, rs.save_dir);
        add(metric_names::kExportTensorsChecked, static_cast<double>(c.tensors));
        add(metric_names::kExportTensorsInexact, static_cast<double>(c.inexact));
        add(metric_names::kExportWeightMaxAbsError, c.max_abs_error);
        add(metric_names::kExportCheckSeconds, c.seconds);
        if (c.inexact > 0)
          run.result.warnings.push_back("export check: " + std::to_string(c.inexact) + " of " + std::to_string(c.tensors) +
                                        " tensors read back from " + rs.save_dir + " differ from the compressed model (largest |Δ| " +
                                        std::to_string(c.max_abs_error) + " in " + c.worst + ")");
      }
      if (rs.export_check_samples > 0 && !large_gguf) {
        if (beat && !beat(0, 1, -1, "checking " + rs.save_dir)) throw Cancelled();
        const ExportCheck c = check_export(model, rs.save_dir, calib, rs.export_check_samples);
        add(metric_names::kExportTop1Agreement, c.top1_agreement);
        add(metric_names::kExportKl, c.kl);
        add(metric_names::kExportLogitsRelError, c.rel_error);
        add(metric_names::kExportCheckSeconds, c.seconds);
      }
    }
    w.finish();
  } catch (...) {
    w.finish_with(std::current_exception());
    throw;
  }
  return run;
}

}  // namespace quench
