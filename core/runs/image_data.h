#pragma once
// Image data for runs, read the same way by quench-cli (--calib-images, --calib-image-folder) and
// the GUI's calibrate job: an IDX images file (MNIST's format, gzipped or not) or a folder of
// images, preprocessed as the model's preprocessor_config.json says.
#include <cstdint>
#include <string>

#include "core/compress/calibration_set.h"

namespace quench {

// The first `samples` images (0: all) of `path`: a folder (load_image_folder) or an IDX images
// file. Calibration needs no labels. Throws naming `path` when it cannot be read.
CalibrationSet calibration_images(const std::string& model_dir, const std::string& path, int64_t samples, int64_t batch = 32);

}  // namespace quench
