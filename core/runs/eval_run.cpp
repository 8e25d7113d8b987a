#include "core/runs/eval_run.h"

#include "core/models/registry.h"
#include "core/ops/gpu_memory.h"
#include "core/runs/compress_run.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"

namespace quench {

nlohmann::json eval_settings(const EvalOptions& o, at::ScalarType dtype) {
  return {{"eval", {{"ctx", o.ctx}, {"stride", o.stride}, {"max_windows", o.max_windows}, {"max_images", o.max_images},
                    {"batch", o.batch}, {"dtype", dtype_string(dtype)}}}};
}

std::vector<std::pair<std::string, double>> speed_metrics(const SpeedResult& s) {
  std::vector<std::pair<std::string, double>> out = {{metric_names::kPrefillTokensPerSecond, s.prefill_tokens_per_second}};
  for (const auto& [batch, tps] : s.decode_tokens_per_second)
    out.emplace_back(metric_names::decode_tokens_per_second(batch), tps);
  if (s.cache_bytes > 0) out.emplace_back(metric_names::kDecodeCacheMib, static_cast<double>(s.cache_bytes) / (1024.0 * 1024.0));
  return out;
}

EvalRun run_evaluation(Store& store, Model& model, const EvalData& data, const EvalOptions& options, const EvalRunSpec& rs,
                       const Progress& progress) {
  ExperimentSpec spec;
  spec.name = rs.name;
  spec.kind = RunKind::Evaluate;
  spec.model_id = store.add_model(model_record(model));
  spec.device = rs.device;
  const int64_t dataset_id = store.add_dataset(rs.dataset);
  spec.datasets = {{dataset_id, "eval"}};
  spec.recipe = rs.settings;
  ExperimentWriter w = store.begin(spec);
  EvalRun run;
  run.experiment_id = w.id();
  try {
    reset_gpu_memory_peak(model.device());
    const EvalResult r = evaluate(model, data, options, nullptr, with_heartbeat(w, progress));
    w.add_metric(r.metric, r.value, dataset_id, "test");
    if (r.metric == metric_names::kPerplexity) {
      w.add_metric(metric_names::kNll, r.nll, dataset_id, "test");
      w.add_metric(metric_names::kTokens, static_cast<double>(r.tokens), dataset_id, "test");
    } else {
      w.add_metric(metric_names::kTop5, r.top5, dataset_id, "test");
      w.add_metric(metric_names::kImages, static_cast<double>(r.n), dataset_id, "test");
    }
    w.add_metric(metric_names::kSeconds, r.seconds);
    if (rs.speed) {
      run.speed = measure_speed(model, options.ctx, {1, 16});
      for (const auto& [name, value] : speed_metrics(*run.speed)) w.add_metric(name, value);
    }
    // The allocator's peak (the loaded weights included) over evaluation and speed: on CUDA only.
    if (const auto m = gpu_memory(model.device())) w.add_metric(metric_names::kPeakGpuMemoryMib, static_cast<double>(m->peak_reserved) / (1024.0 * 1024.0));
    w.finish();
    run.result = r;
  } catch (...) {
    w.finish_with(std::current_exception());
    throw;
  }
  return run;
}

}  // namespace quench
