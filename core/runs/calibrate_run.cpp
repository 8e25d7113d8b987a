#include "core/runs/calibrate_run.h"

#include <sys/resource.h>

#include "core/models/registry.h"
#include "core/runs/compress_run.h"
#include "core/stats/record.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"

namespace quench {

nlohmann::json calibrate_settings(const CalibrationOptions& o, int64_t samples, int64_t seq, uint64_t seed, bool first,
                                  at::ScalarType dtype) {
  return {{"calibrate", {{"samples", samples}, {"seq", seq}, {"seed", seed}, {"first", first}, {"points", o.points},
                         {"outlier_multiple", o.outlier_multiple}, {"dtype", dtype_string(dtype)}}}};
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

CalibrateRun run_calibration(Store& store, Model& model, const CalibrationSet& data, CalibrationOptions options,
                             const CalibrateRunSpec& rs, const Progress& progress) {
  ExperimentSpec spec;
  spec.name = rs.name;
  spec.kind = RunKind::Calibrate;
  spec.model_id = store.add_model(model_record(model));
  spec.device = rs.device;
  const int64_t dataset_id = store.add_dataset(rs.dataset);
  spec.datasets = {{dataset_id, "calib"}};
  spec.recipe = rs.settings;
  options.expected_samples = data.samples;
  ExperimentWriter w = store.begin(spec);
  CalibrateRun run;
  run.experiment_id = w.id();
  try {
    run.result = calibrate(model, data.source(), options, with_heartbeat(w, progress));
    for (const auto& ls : to_layer_stats(run.result)) w.add_layer_stats(ls);
    w.add_metric(metric_names::kSamples, static_cast<double>(run.result.samples), dataset_id);
    if (run.result.tokens) w.add_metric(metric_names::kTokens, static_cast<double>(run.result.tokens), dataset_id);
    w.add_metric(metric_names::kSeconds, run.result.seconds);
    w.add_metric(metric_names::kPeakRssMib, peak_rss_mib());
    w.finish();
  } catch (...) {
    w.finish_with(std::current_exception());
    throw;
  }
  return run;
}

}  // namespace quench
