#pragma once
// Text data for runs, read the same way by quench-cli (compress, sensitivity) and the GUI's jobs:
// the file tokenized with the model's tokenizer, random calibration windows, non-overlapping
// evaluation windows.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/compress/calibration_set.h"

namespace quench {

// I64 [N]: the text of `path` (.txt, folder of .txt, .jsonl) tokenized with model_dir's tokenizer.
at::Tensor text_token_ids(const std::string& model_dir, const std::string& path);
// `samples` windows of `seq` tokens at random positions (seeded). Throws naming `path` when the
// text is shorter than one window.
CalibrationSet calibration_windows(const at::Tensor& ids, int64_t samples, int64_t seq, uint64_t seed, const std::string& path);
// Up to `max` (0: all) non-overlapping windows of ctx + 1 tokens (inputs and the last target), as
// sensitivity scores them. Throws naming `path` when there is not one window.
CalibrationSet evaluation_windows(const at::Tensor& ids, int64_t ctx, int64_t max, const std::string& path);

}  // namespace quench
