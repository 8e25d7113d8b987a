#pragma once
// The data options compress and sensitivity share, read the same way eval reads its own:
//   calibration  --calib FILE [--samples N] [--seq T] [--seed S]        (text: random windows)
//                --calib-images IDX | --calib-image-folder DIR [--samples N]
//   evaluation   --eval FILE [--ctx 256] [--max-windows N]             (text: non-overlapping windows)
//                --eval-images IDX --eval-labels IDX | --eval-image-folder DIR [--max-images N]
#include <optional>
#include <string>
#include <vector>

#include "app/cli/args.h"
#include "core/compress/calibration_set.h"
#include "core/data/image_dataset.h"
#include "core/eval/evaluate.h"
#include "core/models/model.h"

namespace quench::cli {

// Declare the options above, with their help; at most one source of each kind may be given.
// default_samples: what --samples means when not given, per modality.
void add_calibration_options(Args& a, int64_t text_samples, int64_t image_samples);
// what_for: the end of --eval's help ("evaluate the compressed model ...").
void add_evaluation_options(Args& a, const std::string& what_for);

struct DataInfo {
  std::string path;  // what the user named (the IDX images file, the text file, the folder)
  std::string kind;  // "text" or "images"
  int64_t samples = 0;
};

// nullopt when no calibration option was given. Throws UsageError for a text/image mismatch.
std::optional<CalibrationSet> load_calibration(const Args& a, const std::string& model_dir, Modality modality, DataInfo* info,
                                               int64_t default_samples);

// Evaluation data for evaluate() (nullopt when none was given). `images` must outlive the result.
struct EvalInput {
  EvalData data;
  EvalOptions options;
  DataInfo info;
};
std::optional<EvalInput> load_evaluation(const Args& a, const std::string& model_dir, Modality modality, ImageDataset& images);

// The same evaluation data as batches (text windows of ctx + 1 tokens; images with labels), for
// sensitivity; max: windows or images to keep (0: all).
std::optional<CalibrationSet> load_evaluation_batches(const Args& a, const std::string& model_dir, Modality modality, DataInfo* info,
                                                      int64_t default_max);

}  // namespace quench::cli
