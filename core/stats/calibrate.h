#pragma once
// A calibration run: feed batches through a model with a statistics observer on the points the
// user picked, and collect weight statistics for every compressible layer. Everything the GUI's
// distribution explorer and the experiment store show about a model before compression.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/models/model.h"
#include "core/util/progress.h"
#include "core/stats/streaming_stats.h"
#include "core/stats/weight_stats.h"

namespace quench {

// The next batch, or nullopt when the data is exhausted. Token windows for text models
// (input_ids int64 [B, T]), image batches for vision models (pixel_values [B, C, H, W]).
using BatchSource = std::function<std::optional<ModelInputs>()>;

// Progress (core/util/progress.h) is called before the first batch, after every batch and after
// each step of the weight pass; done/total count samples (rows of a batch). Returning false
// cancels: calibrate() throws quench::Cancelled and returns nothing (the hooks are left as they were).

struct CalibrationOptions {
  std::string points = "*";  // comma-separated globs over Model::points() names (point_pattern.h)
  double outlier_multiple = kDefaultOutlierMultiple;
  int64_t histogram_bins = 2048;
  int64_t expected_samples = 0;  // for progress and ETA; 0 = unknown
  int64_t max_samples = 0;       // stop after this many samples; 0 = until the source ends
  bool weights = true;           // also compute WeightStats for every layer
  bool stats_kernels = true;     // StatsOptions::kernels: false reduces CUDA activations with libtorch
};

struct CalibrationResult {
  std::vector<ActivationStats> points;  // in Model::points() order, the points observed
  std::vector<WeightStats> weights;     // in Model::layers() order (empty when !opts.weights)
  int64_t samples = 0, batches = 0, tokens = 0;  // tokens: input_ids elements, or 0 for images
  double seconds = 0;                            // wall time of the whole run
  size_t observer_bytes = 0;                     // memory the statistics held at the end
  std::vector<std::string> warnings;             // points matched but never reached, non-finite values, ...

  // nullptr when absent. The pointers point into this result, so a temporary's are refused at
  // compile time (`calibrate(...).point(p)` dangled once in a test and read freed memory).
  const ActivationStats* point(const std::string& name) const&;
  const WeightStats* weight(const std::string& layer) const&;
  const ActivationStats* point(const std::string& name) const&& = delete;
  const WeightStats* weight(const std::string& layer) const&& = delete;
};

// Runs under at::NoGradGuard. Throws UsageError when the pattern matches none of the model's
// points or the source yields no batch, Cancelled when progress returns false, and whatever the
// forward pass throws (with the observer removed in every case).
CalibrationResult calibrate(Model& model, const BatchSource& next_batch, const CalibrationOptions& opts,
                            const Progress& progress = {});

}  // namespace quench
