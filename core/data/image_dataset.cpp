#include "core/data/image_dataset.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "core/data/idx.h"
#include "core/data/image_decode.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace quench {

ImageDataset load_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  ImageDataset d;
  d.images = read_idx_images(images_path).unsqueeze(-1);  // [N, H, W, 1]
  d.labels = read_idx_labels(labels_path);
  QUENCH_CHECK(d.images.size(0) == d.labels.size(0), images_path, " holds ", d.images.size(0), " images but ",
               labels_path, " holds ", d.labels.size(0), " labels");
  QUENCH_CHECK(d.images.size(0) > 0, images_path, ": no images");
  d.source = images_path;
  d.labels_source = labels_path;
  return d;
}

ImageDataset load_image_folder(const std::string& dir, const Config* cfg) {
  QUENCH_CHECK(fs::is_directory(dir), dir, ": not a folder");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) classes.push_back(e.path().filename().string());
  QUENCH_CHECK(!classes.empty(), dir, ": no class sub-folders (expected one folder of images per class)");
  std::sort(classes.begin(), classes.end());

  ImageDataset d;
  d.source = d.labels_source = dir;
  d.class_names = classes;
  std::map<std::string, int64_t> id_of;
  bool from_config = cfg && cfg->has("label2id") && cfg->json()["label2id"].is_object();
  if (from_config) {
    const auto& l2i = cfg->json()["label2id"];
    for (const auto& c : classes)
      if (!l2i.contains(c) || !l2i[c].is_number_integer()) from_config = false;
    if (from_config)
      for (const auto& c : classes) id_of[c] = l2i[c].get<int64_t>();
    else
      d.warnings.push_back(dir + ": folder names are not all labels in the model's label2id; class ids follow the sorted folder order");
  }
  if (!from_config)
    for (size_t i = 0; i < classes.size(); ++i) id_of[classes[i]] = static_cast<int64_t>(i);

  std::vector<at::Tensor> images;
  std::vector<int64_t> labels;
  for (const auto& c : classes) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(dir) / c)) {
      auto ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      images.push_back(decode_image(f.string()));
      labels.push_back(id_of[c]);
    }
  }
  QUENCH_CHECK(!images.empty(), dir, ": class folders hold no PNG or JPEG images");
  const auto shape = images.front().sizes().vec();
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].size(2) != shape[2]) images[i] = images[i].size(2) == 1 ? images[i].expand({-1, -1, 3}) : images[i];
    if (images[i].sizes() != at::IntArrayRef(shape) && images[i].size(2) == shape[2]) {
      // Mixed sizes: resize each to the first image's size (the preprocessor resizes again if asked).
      auto f = images[i].permute({2, 0, 1}).unsqueeze(0).to(at::kFloat);
      f = at::upsample_bilinear2d(f, {shape[0], shape[1]}, false);
      images[i] = f.squeeze(0).permute({1, 2, 0}).round().clamp(0, 255).to(at::kByte);
    }
  }
  int64_t C = 1;
  for (const auto& im : images) C = std::max(C, im.size(2));
  for (auto& im : images)
    if (im.size(2) != C) im = im.expand({-1, -1, C}).contiguous();
  d.images = at::stack(images);
  d.labels = at::tensor(labels, at::kLong);
  return d;
}

ImagePreprocessor ImagePreprocessor::from_model_dir(const std::string& dir) {
  ImagePreprocessor p;
  const Config model = Config::load((fs::path(dir) / "config.json").string());
  p.channels = model.get_int("num_channels", 3);
  if (model.has("image_size")) p.height = p.width = model.get_int("image_size");
  const fs::path pp = fs::path(dir) / "preprocessor_config.json";
  if (!fs::exists(pp)) return p;
  const Config c = Config::load(pp.string());
  p.rescale = c.get_bool("do_rescale", true);
  p.rescale_factor = c.get_double("rescale_factor", 1.0 / 255.0);
  p.normalize = c.get_bool("do_normalize", true);
  auto list = [&](const char* key, std::vector<double> fallback) {
    if (!c.has(key)) return fallback;
    const auto& v = c.json()[key];
    if (v.is_number()) return std::vector<double>{v.get<double>()};
    QUENCH_CHECK(v.is_array() && !v.empty(), pp.string(), ": '", key, "' must be a number or a list");
    std::vector<double> out;
    for (const auto& x : v) {
      QUENCH_CHECK(x.is_number(), pp.string(), ": '", key, "' entries must be numbers");
      out.push_back(x.get<double>());
    }
    return out;
  };
  p.mean = list("image_mean", {0.5});
  p.stddev = list("image_std", {0.5});
  for (double s : p.stddev) QUENCH_CHECK(s > 0, pp.string(), ": image_std entries must be positive");
  p.resize = c.get_bool("do_resize", false);
  if (c.has("size")) {
    const auto& s = c.json()["size"];
    if (s.is_object() && s.contains("height") && s.contains("width")) {
      p.height = s["height"].get<int64_t>();
      p.width = s["width"].get<int64_t>();
    } else if (s.is_object() && s.contains("shortest_edge")) {
      p.height = p.width = s["shortest_edge"].get<int64_t>();
    } else if (s.is_number_integer()) {
      p.height = p.width = s.get<int64_t>();
    }
  }
  return p;
}

at::Tensor ImagePreprocessor::operator()(const at::Tensor& u8) const {
  QUENCH_CHECK(u8.dim() == 4, "images must be [B, H, W, C], got ", u8.sizes());
  auto x = u8.permute({0, 3, 1, 2}).to(at::kFloat);  // [B, C, H, W], 0..255
  // Resizing first: both it and the channel conversion are linear, so the order does not change
  // the result, and a large image is converted at the model's size, not its own.
  if (height > 0 && width > 0 && (x.size(2) != height || x.size(3) != width)) {
    QUENCH_CHECK(resize, "images are ", x.size(2), "×", x.size(3), " but the model takes ", height, "×", width,
                 " and its preprocessor_config.json does not ask for resizing");
    x = at::upsample_bilinear2d(x, {height, width}, false);
  }
  const int64_t C = x.size(1);
  if (C != channels) {
    if (C == 1) {
      x = x.expand({-1, channels, -1, -1});
    } else if (C == 3 && channels == 1) {
      // ITU-R 601-2 luma, what PIL's convert("L") computes
      x = (x.select(1, 0) * 0.299 + x.select(1, 1) * 0.587 + x.select(1, 2) * 0.114).unsqueeze(1);
    } else {
      fail("images have ", C, " channels but the model takes ", channels);
    }
  }
  if (rescale) x = x * rescale_factor;
  if (normalize) {
    auto m = at::tensor(mean, at::kDouble).to(at::kFloat), s = at::tensor(stddev, at::kDouble).to(at::kFloat);
    if (m.numel() == 1) m = m.expand({channels});
    if (s.numel() == 1) s = s.expand({channels});
    QUENCH_CHECK(m.numel() == channels && s.numel() == channels, "image_mean/image_std have ", m.numel(), "/", s.numel(),
                 " entries for ", channels, " channels");
    x = (x - m.view({1, channels, 1, 1})) / s.view({1, channels, 1, 1});
  }
  return x.contiguous();
}

}  // namespace quench
