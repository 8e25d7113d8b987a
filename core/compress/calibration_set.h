#pragma once
// The calibration inputs a compression run works on: a few batches kept in memory (small by
// design: 32–512 windows of text or a few hundred images), reused by every pass of the pipeline.
#include <vector>

#include "core/data/image_dataset.h"
#include "core/models/model.h"
#include "core/stats/calibrate.h"

namespace quench {

struct CalibrationSet {
  std::vector<ModelInputs> batches;  // input_ids I64 [b, T] or pixel_values F32 [b, C, H, W]
  std::vector<at::Tensor> labels;    // images: I64 [b] per batch (from_images), for accuracy metrics
  int64_t samples = 0;

  // windows: I64 [N, T] (core/data/token_windows.h sample_windows).
  static CalibrationSet from_token_windows(const at::Tensor& windows, int64_t batch = 8);
  // The first `count` images (0: all), preprocessed for the model.
  static CalibrationSet from_images(const ImageDataset& images, const ImagePreprocessor& pre, int64_t count, int64_t batch = 32);

  bool empty() const { return batches.empty(); }
  // The batches holding the first `max_samples` samples (0: all; whole batches).
  std::vector<ModelInputs> first(int64_t max_samples) const;
  // A BatchSource (core/stats/calibrate.h) over the first `max_samples` samples.
  BatchSource source(int64_t max_samples = 0) const;
};

int64_t batch_size(const ModelInputs& in);

}  // namespace quench
