#pragma once
// The export check: what was written is opened again, exactly as a user would open it with
// Quench, and the same inputs go through it and through the compressed model that Quench
// evaluated. Agreement shows that the file holds that model (a GGUF Q4_0 or a compressed-tensors
// pack-quantized export reproduces it exactly; what differs is activation quantization, which
// the engine applies at run time and a file does not hold).
#include <cstdint>
#include <string>

#include "core/compress/calibration_set.h"
#include "core/models/model.h"

namespace quench {

struct ExportCheck {
  int64_t samples = 0, positions = 0;
  double top1_agreement = 0;  // fraction of positions (or images) whose argmax agrees
  double kl = 0;              // mean KL(compressed ‖ reopened), nats
  double rel_error = 0;       // max |Δ logit| / max |logit|: 0 when the logits are identical
  double seconds = 0;
};

// Reopens `path` (a checkpoint directory, or a .gguf file, converted into a temporary directory
// that is removed afterwards) on the compressed model's device and dtype, and runs the first
// `samples` samples of `inputs` through both models.
ExportCheck check_export(Model& compressed, const std::string& path, const CalibrationSet& inputs, int64_t samples);

}  // namespace quench
