#include "core/compress/calibration_set.h"

#include <memory>

#include "core/util/error.h"

namespace quench {

int64_t batch_size(const ModelInputs& in) {
  if (in.input_ids.defined()) return in.input_ids.size(0);
  if (in.pixel_values.defined()) return in.pixel_values.size(0);
  return 0;
}

CalibrationSet CalibrationSet::from_token_windows(const at::Tensor& windows, int64_t batch) {
  QUENCH_CHECK(windows.dim() == 2 && windows.size(0) > 0, "calibration windows must be [N, T] with N > 0, got ", windows.sizes());
  CalibrationSet c;
  const int64_t n = windows.size(0), b = std::max<int64_t>(1, batch);
  for (int64_t i = 0; i < n; i += b) {
    ModelInputs in;
    in.input_ids = windows.narrow(0, i, std::min(b, n - i)).to(at::kLong).contiguous();
    c.batches.push_back(in);
  }
  c.samples = n;
  return c;
}

CalibrationSet CalibrationSet::from_images(const ImageDataset& images, const ImagePreprocessor& pre, int64_t count, int64_t batch) {
  int64_t n = images.size();
  if (count > 0) n = std::min(n, count);
  QUENCH_CHECK(n > 0, images.source, ": no images to calibrate on");
  CalibrationSet c;
  const int64_t b = std::max<int64_t>(1, batch);
  for (int64_t i = 0; i < n; i += b) {
    ModelInputs in;
    in.pixel_values = pre(images.images.narrow(0, i, std::min(b, n - i)));
    c.batches.push_back(in);
    c.labels.push_back(images.labels.narrow(0, i, std::min(b, n - i)));
  }
  c.samples = n;
  return c;
}

std::vector<ModelInputs> CalibrationSet::first(int64_t max_samples) const {
  std::vector<ModelInputs> out;
  int64_t n = 0;
  for (const auto& b : batches) {
    if (max_samples > 0 && n >= max_samples) break;
    out.push_back(b);
    n += batch_size(b);
  }
  return out;
}

BatchSource CalibrationSet::source(int64_t max_samples) const {
  auto list = std::make_shared<std::vector<ModelInputs>>(first(max_samples));
  auto pos = std::make_shared<size_t>(0);
  return [list, pos]() -> std::optional<ModelInputs> {
    if (*pos >= list->size()) return std::nullopt;
    return (*list)[(*pos)++];
  };
}

}  // namespace quench
