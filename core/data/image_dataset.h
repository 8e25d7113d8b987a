#pragma once
// Labelled image sets (IDX files, or a folder per class as in ImageNet's validation layout) and
// the preprocessing a model's preprocessor_config.json asks for.
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/io/config.h"

namespace quench {

struct ImageDataset {
  at::Tensor images;                     // U8 [N, H, W, C]
  at::Tensor labels;                     // I64 [N]
  std::vector<std::string> class_names;  // folder datasets: class id → folder name
  std::vector<std::string> warnings;
  std::string source;         // the images (an IDX images file, or the folder)
  std::string labels_source;  // where the labels came from (the IDX labels file, or the folder)
  int64_t size() const { return images.size(0); }
};

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path);
// One sub-folder per class holding PNG/JPEG files. Class ids come from the model config's
// label2id when every folder name is a label there, else from the sorted folder order.
ImageDataset load_image_folder(const std::string& dir, const Config* model_config = nullptr);

// rescale → (resize) → normalize, as transformers' image processors do, to the model's channels.
struct ImagePreprocessor {
  int64_t channels = 3, height = 0, width = 0;  // model input; 0 = keep the image's size
  bool rescale = true, normalize = true, resize = false;
  double rescale_factor = 1.0 / 255.0;
  std::vector<double> mean{0.5}, stddev{0.5};

  // preprocessor_config.json when present, else the model config's num_channels and image_size.
  static ImagePreprocessor from_model_dir(const std::string& dir);
  at::Tensor operator()(const at::Tensor& images_u8) const;  // U8 [B, H, W, C] → F32 [B, channels, H', W']
};

}  // namespace quench
