#pragma once
// Evaluating a model the way its published scores were measured: perplexity over token windows
// (text) or top-1/top-5 accuracy (images), batched, on the model's device, with progress and
// cancellation; optionally with fidelity against a reference (uncompressed) model on the same inputs.
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "core/data/image_dataset.h"
#include "core/eval/fidelity.h"
#include "core/models/model.h"
#include "core/util/progress.h"

namespace quench {

struct EvalOptions {
  int64_t ctx = 256;        // text: inputs per window
  int64_t stride = 0;       // text: distance between window starts (0: ctx + 1, non-overlapping)
  int64_t max_windows = 0;  // text: 0 = every window
  int64_t max_images = 0;   // images: 0 = all
  int64_t batch = 16;
};

struct EvalData {
  at::Tensor token_ids;                 // I64 [N] for text models
  const ImageDataset* images = nullptr;  // for image models
  ImagePreprocessor preprocess;
};

struct EvalResult {
  std::string metric;        // "perplexity" or "top1"
  double value = 0;          // perplexity, or top-1 accuracy
  double top5 = 0;           // images
  double nll = 0;            // text: mean negative log-likelihood per token (nats)
  int64_t tokens = 0;        // text: scored tokens
  int64_t windows = 0;       // text
  int64_t n = 0;             // images
  double seconds = 0;
  std::optional<Fidelity> fidelity;  // when a reference model was given
};

// reference: the uncompressed model, run on the same inputs for fidelity (may be null).
EvalResult evaluate(Model& model, const EvalData& data, const EvalOptions& opts, Model* reference = nullptr,
                    const Progress& progress = {});

}  // namespace quench
