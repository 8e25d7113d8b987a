#pragma once
// The jobs that record experiments: compress + evaluate, a baseline evaluation, per-layer
// sensitivity, and activation calibration, for text and image models. Each loads its own copy of
// the model on the job thread (the open session's model stays untouched for the views), reads the
// data (text windows, or IDX / folder images), and records through core/runs exactly as quench-cli
// does; results come back to the UI thread through `done`.
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/stats/weight_stats.h"
#include "core/store/records.h"
#include "widgets/jobs/job.h"
#include "widgets/runs/run_settings.h"

namespace quench {
class Model;
struct ResolvedRecipe;
}  // namespace quench

namespace quench::gui {

struct RunOutcome {
  int64_t experiment_id = 0;
  QString name;
  RunKind kind = RunKind::Compress;
  std::vector<LayerResult> layers;  // compress: per-layer results; sensitivity: one row per unit
  std::vector<WeightStats> after;   // compress: each compressed layer's weight statistics after compression
  std::vector<WeightStats> errors;  // compress: statistics of each compressed layer's weight minus its original
  nlohmann::json metrics = nlohmann::json::object();
  QStringList warnings;
  QStringList ranking;  // sensitivity: units from most to least sensitive
  std::vector<LayerStats> activations;  // calibrate: every observed point, arrays included, as recorded
};
using RunDone = std::function<void(std::shared_ptr<RunOutcome>)>;

// Why the model compressed by `plan` cannot be written in `format` ("gguf", "compressed-tensors",
// "safetensors"), naming the layer and the setting, as quench-cli compress --format refuses it;
// "" when it can. Checks the recipe only, not the target path (exportTargetRefusal).
QString exportRefusal(const Model& model, const ResolvedRecipe& plan, const QString& format);
// Why `path` cannot take the export ("" when it can): a missing parent folder, an existing file
// or non-empty directory without `force`.
QString exportTargetRefusal(const QString& path, const QString& format, bool force);

// Compress + evaluate; with settings.export_format set, the compressed model is also written to
// settings.export_path (refused before anything is recorded when the recipe or target cannot be).
Job compressJob(const RunSettings& settings, const nlohmann::json& recipe, RunDone done);
Job evaluateJob(const RunSettings& settings, RunDone done);
Job sensitivityJob(const RunSettings& settings, RunDone done);
// Statistics at every observable point of the model (and its weights) on the calibration data.
Job calibrateJob(const RunSettings& settings, RunDone done);

}  // namespace quench::gui
