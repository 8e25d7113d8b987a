#include "app/cli/job_inputs.h"

#include "core/data/idx.h"
#include "core/runs/image_data.h"
#include "core/runs/text_data.h"
#include "core/data/text_source.h"
#include "core/data/token_windows.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

namespace quench::cli {

void add_calibration_options(Args& a, int64_t text_samples, int64_t image_samples) {
  a.option("calib", "FILE", "calibration text (.txt, a folder of .txt files or .jsonl): --samples random windows of --seq tokens");
  a.option("calib-images", "IDX", "calibration images of an image model, an IDX images file (labels are not needed)");
  a.option("calib-image-folder", "DIR", "calibration images of an image model, a folder of PNG/JPEG files");
  a.one_of({"calib", "calib-images", "calib-image-folder"}, false);
  a.option("samples", "N",
           text_samples == image_samples ? "calibration samples (default " + std::to_string(text_samples) + ")"
                                         : "calibration samples (default " + std::to_string(text_samples) + " text windows, " +
                                               std::to_string(image_samples) + " images)");
  a.option("seq", "T", "tokens per calibration window", "256");
  a.option("seed", "S", "seed of the random choice of calibration windows", "0");
}

void add_evaluation_options(Args& a, const std::string& what_for) {
  a.option("eval", "FILE", "evaluation text, " + what_for + ": perplexity over non-overlapping windows of --ctx tokens");
  a.option("eval-images", "IDX", "evaluation images (an IDX file, with --eval-labels): top-1 and top-5 accuracy");
  a.option("eval-labels", "IDX", "the labels of --eval-images");
  a.option("eval-image-folder", "DIR", "evaluation images, a folder with a subfolder per class");
  a.one_of({"eval", "eval-images", "eval-image-folder"}, false);
  a.declared("eval-images")->needs(a.declared("eval-labels"));
  a.option("ctx", "N", "tokens per evaluation window", "256");
  a.option("max-windows", "N", "evaluate at most N text windows (0: all)", "0");
  a.option("max-images", "N", "evaluate at most N images (0: all)", "0");
}

namespace {

void check_modality(Modality m, bool text, const std::string& what) {
  if (m == Modality::Text && !text) throw UsageError("a language model " + what + " on text (--" + (what == "calibrates" ? "calib" : "eval") + " FILE)");
  if (m == Modality::Image && text)
    throw UsageError("an image classifier " + what + " on images (--" + (what == "calibrates" ? "calib-images IDX" : "eval-images IDX --eval-labels IDX") +
                     ")");
}

}  // namespace

std::optional<CalibrationSet> load_calibration(const Args& a, const std::string& model_dir, Modality modality, DataInfo* info,
                                               int64_t default_samples) {
  const int given = (a.get("calib") ? 1 : 0) + (a.get("calib-images") ? 1 : 0) + (a.get("calib-image-folder") ? 1 : 0);
  if (given == 0) return std::nullopt;
  const int64_t samples = a.get_int("samples", default_samples);
  if (samples <= 0) throw UsageError("--samples must be positive");
  if (auto text = a.get("calib")) {
    check_modality(modality, true, "calibrates");
    const int64_t T = a.get_int("seq", 256);
    if (T <= 0) throw UsageError("--seq must be positive");
    const at::Tensor ids = text_token_ids(model_dir, *text);
    if (info) *info = {*text, "text", samples};
    return calibration_windows(ids, samples, T, static_cast<uint64_t>(a.get_int("seed", 0)), *text);
  }
  check_modality(modality, false, "calibrates");
  auto set = calibration_images(model_dir, a.get("calib-images") ? *a.get("calib-images") : *a.get("calib-image-folder"), samples);
  if (info) *info = {a.get("calib-images") ? *a.get("calib-images") : *a.get("calib-image-folder"), "images", set.samples};
  return set;
}

std::optional<EvalInput> load_evaluation(const Args& a, const std::string& model_dir, Modality modality, ImageDataset& images) {
  const int given = (a.get("eval") ? 1 : 0) + (a.get("eval-images") ? 1 : 0) + (a.get("eval-image-folder") ? 1 : 0);
  if (given == 0) return std::nullopt;
  EvalInput e;
  e.options.ctx = a.get_int("ctx", 256);
  e.options.max_windows = a.get_int("max-windows", 0);
  e.options.max_images = a.get_int("max-images", 0);
  if (e.options.ctx <= 0) throw UsageError("--ctx must be positive");
  if (auto text = a.get("eval")) {
    check_modality(modality, true, "is evaluated");
    e.data.token_ids = text_token_ids(model_dir, *text);
    e.info = {*text, "text", 0};
    return e;
  }
  check_modality(modality, false, "is evaluated");
  if (a.get("eval-images")) {
    images = load_idx_dataset(*a.get("eval-images"), *a.get("eval-labels"));
    e.info = {*a.get("eval-images"), "images", images.size()};
  } else {
    images = load_image_folder(*a.get("eval-image-folder"));
    e.info = {*a.get("eval-image-folder"), "images", images.size()};
  }
  e.data.images = &images;
  e.data.preprocess = ImagePreprocessor::from_model_dir(model_dir);
  return e;
}

std::optional<CalibrationSet> load_evaluation_batches(const Args& a, const std::string& model_dir, Modality modality, DataInfo* info,
                                                      int64_t default_max) {
  ImageDataset images;
  auto e = load_evaluation(a, model_dir, modality, images);
  if (!e) return std::nullopt;
  if (e->data.token_ids.defined()) {
    const int64_t want = e->options.max_windows > 0 ? e->options.max_windows : default_max;
    auto set = evaluation_windows(e->data.token_ids, e->options.ctx, want, e->info.path);
    if (info) *info = {e->info.path, "text", set.samples};
    return set;
  }
  const int64_t want = e->options.max_images > 0 ? e->options.max_images : default_max;
  auto set = CalibrationSet::from_images(images, e->data.preprocess, want, 64);
  if (info) *info = {e->info.path, "images", set.samples};
  return set;
}

}  // namespace quench::cli
