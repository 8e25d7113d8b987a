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

// For a GGUF file too large to reopen beside the compressed model (above kExportCheckReopenMaxParams):
// every tensor of the file, read back one at a time as Quench's importer reads it, against the
// same tensor of the compressed model in the file's dtype. 0 everywhere when the file holds what
// Quench evaluated (a quantized layer's blocks decode to its fake-quantized weight bit for bit);
// Mamba's A_log, stored as −exp(A_log), counts as equal within 1e-6 relative.
struct WeightCheck {
  int64_t tensors = 0, inexact = 0;  // compared, and of those not equal
  double max_abs_error = 0;          // over every element of every tensor
  std::string worst;                 // the tensor with the largest error ("" when exact)
  double seconds = 0;
};
WeightCheck check_export_weights(const Model& compressed, const std::string& gguf_path);

// Reopening a GGUF export converts it to an F32 checkpoint in the temporary folder (4 bytes a
// parameter: 32 GB at 8B, enough to fill the GPU machine's disk) and loads a second model beside
// the compressed one, so larger GGUF exports are checked tensor by tensor, which proves the same
// exactness of the weights at a fraction of the cost (bench/RESULTS.md).
constexpr int64_t kExportCheckReopenMaxParams = 2'000'000'000;

}  // namespace quench
