#pragma once
// What a compress, evaluate, sensitivity or calibrate job runs on: the settings of the run dialog, kept by
// the window between runs. Small sample counts make a quick run; the CLI's defaults a faithful one.
#include <QString>

#include "core/store/metrics.h"

namespace quench::gui {

struct RunSettings {
  QString model_dir;
  QString modality = QStringLiteral("text");  // the model's: "text" or "image" (what the data fields ask for)
  QString device = QStringLiteral("cpu");
  QString database;  // the experiment store's file
  QString name;      // the experiment's name ("" : a name from the recipe or the kind)

  // Calibration (text): windows of `seq` tokens at random positions, seeded.
  QString calibration;
  int calib_samples = 64;
  int seq = 256;
  int seed = 0;

  // Evaluation (text): perplexity over non-overlapping windows of `ctx` tokens (0 windows: all).
  bool evaluate = true;
  QString evaluation;
  int ctx = 256;
  int eval_windows = 16;
  // Image models: the labels of an IDX images file given as `evaluation` ("" for an image folder,
  // whose sub-folders are the labels); `eval_windows` then caps the images scored (0: all).
  QString evaluation_labels;

  // Compress: calibration samples on which per-layer output errors are measured (0: none).
  int measure_samples = 16;

  // Sensitivity: settings to try on each layer (schemes, comma-separated), the metric, and globs
  // restricting the layers ("" : what a recipe default reaches).
  QString candidates = QStringLiteral("W4A16-G128, W3A16-G128");
  QString metric = QString::fromLatin1(metric_names::kPerplexity);
  QString layers;

  // Calibrate: globs over the model's observable points ("" : every point).
  QString points;

  // Compress: where the compressed model is written after the run (File → Export), as quench-cli
  // compress --save-model PATH --format F [--float-type T] [--force]. An empty format: not written.
  // "gguf": export_path is the .gguf file; "compressed-tensors" / "safetensors": a directory.
  QString export_path;
  QString export_format;
  QString export_float_type;  // GGUF only: "" (the checkpoint's dtype), "f16", "bf16", "f32"
  bool export_force = false;  // replace an existing file / a non-empty directory
};

}  // namespace quench::gui
