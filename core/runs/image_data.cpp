#include "core/runs/image_data.h"

#include <filesystem>

#include "core/data/idx.h"
#include "core/data/image_dataset.h"

namespace quench {

CalibrationSet calibration_images(const std::string& model_dir, const std::string& path, int64_t samples, int64_t batch) {
  ImageDataset ds;
  if (std::filesystem::is_directory(path)) {
    ds = load_image_folder(path);
  } else {
    ds.images = read_idx_images(path).unsqueeze(-1);  // [N, H, W, 1]
    ds.labels = at::zeros({ds.images.size(0)}, at::kLong);
    ds.source = path;
  }
  return CalibrationSet::from_images(ds, ImagePreprocessor::from_model_dir(model_dir), samples, batch);
}

}  // namespace quench
