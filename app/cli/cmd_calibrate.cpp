#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/job_inputs.h"
#include "app/cli/progress_printer.h"
#include "app/cli/record.h"
#include "core/data/idx.h"
#include "core/data/image_dataset.h"
#include "core/data/token_windows.h"
#include "core/export/gguf_import.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/runs/calibrate_run.h"
#include "core/runs/text_data.h"
#include "core/stats/calibrate.h"
#include "core/stats/serialize.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"
#include "core/util/error.h"

namespace quench::cli {

namespace {
// The data of --text / --images / --image-folder: like job_inputs' calibration data, plus --first
// and --samples 0 (everything), which only a statistics run wants.
CalibrationSet own_data(const Args& a, const std::string& dir, const Model& model, int64_t samples, int64_t seq, int64_t batch,
                        uint64_t seed, DataInfo& info) {
  const bool text = model.modality() == Modality::Text;
  if (text != static_cast<bool>(a.get("text")))
    throw UsageError(model.architecture() + (text ? " is a language model: calibrate it with --text" : " takes images: use --images or --image-folder"));
  if (text) {
    info = {*a.get("text"), "text", 0};
    const at::Tensor t = text_token_ids(dir, info.path);
    auto set = CalibrationSet::from_token_windows(sample_windows(t, samples == 0 ? t.numel() / seq : samples, seq, !a.flag("first"), seed), batch);
    info.samples = set.samples;
    return set;
  }
  ImageDataset images;
  info = {a.get("images").value_or(a.get("image-folder").value_or("")), "images", 0};
  if (a.get("images")) {
    images.images = read_idx_images(info.path).unsqueeze(-1);
    images.source = info.path;
  } else {
    images = load_image_folder(info.path, &model.config());
  }
  const int64_t n = images.size();
  if (samples > 0 && samples < n) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    if (!a.flag("first")) std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
    order.resize(static_cast<size_t>(samples));
    const at::Tensor keep = at::tensor(order, at::kLong);
    images.images = images.images.index_select(0, keep);
    if (images.labels.defined() && images.labels.numel() == n) images.labels = images.labels.index_select(0, keep);
  }
  // Calibration needs no labels; CalibrationSet keeps one per image all the same.
  if (!images.labels.defined() || images.labels.numel() != images.size()) images.labels = at::zeros({images.size()}, at::kLong);
  auto set = CalibrationSet::from_images(images, ImagePreprocessor::from_model_dir(dir), 0, batch);
  info.samples = set.samples;
  return set;
}
}  // namespace

int cmd_calibrate(const Argv& argv) {
  Args a("calibrate",
         "Runs calibration data through the model and collects statistics at every observable point that matches\n"
         "--points, plus weight statistics for every layer. Prints one row per point (absmax, p99.99 of |x|, kurtosis,\n"
         "outlier channels). The run is recorded as a 'calibrate' experiment.");
  a.positional("MODEL_DIR", "the model folder, or a .gguf file (converted once into a checkpoint)");
  a.option("text", "FILE", "calibration text: --samples windows of --seq tokens at random (seeded) positions, or the first ones "
                           "with --first; --samples 0: every window");
  a.option("images", "IDX", "calibration images (an IDX images file): --samples of them (0: all)");
  a.option("image-folder", "DIR", "calibration images, a folder of PNG/JPEG files");
  add_calibration_options(a, 128, 128);
  a.one_of({"text", "images", "image-folder", "calib", "calib-images", "calib-image-folder"}, true,
           "--text, --images, --image-folder (or --calib, --calib-images, --calib-image-folder, read as compress reads them: "
           "random windows or the first images, --samples positive)");
  a.flag("first", "the first --samples windows or images instead of a random choice");
  a.option("batch", "N", "samples per forward pass", "8");
  a.option("points", "PATTERN", "comma-separated globs over point names, e.g. '*:x,*self_attn:k'", "*");
  a.option("outlier-multiple", "M", "a channel is an outlier when its absmax exceeds M times the median channel's",
           fixed(kDefaultOutlierMultiple, 0));
  add_device_options(a);
  add_max_memory_option(a);
  a.flag("json", "print everything, histograms' edges and counts included");
  add_record_options(a, RunKind::Calibrate);
  if (!a.parse(argv)) return 0;
  const std::string dir = resolve_model_path(a.positional()[0]);  // a .gguf file: its converted checkpoint
  const bool shared = a.given("calib") || a.given("calib-images") || a.given("calib-image-folder");
  const int64_t samples = a.get_int("samples", 128), seq = a.get_int("seq"), batch = a.get_int("batch");
  const auto seed = static_cast<uint64_t>(a.get_int("seed"));
  if (samples < 0 || seq <= 0 || batch <= 0) throw UsageError("--samples must be ≥ 0, --seq and --batch positive");
  CalibrationOptions opts;
  opts.points = *a.get("points");
  opts.outlier_multiple = a.get_double("outlier-multiple");
  if (opts.outlier_multiple <= 1) throw UsageError("--outlier-multiple must be larger than 1");
  LoadOptions lo;
  lo.device = parse_device(*a.get("device"));
  lo.dtype = parse_dtype(*a.get("dtype"));
  lo.max_memory = max_memory_option(a);
  MemoryPlan plan;
  lo.plan = &plan;

  auto store = open_store_for(a);
  auto model = load_model(dir, lo);
  if (lo.max_memory) std::cerr << plan.describe() << "\n";
  DataInfo info;
  if (model->modality() == Modality::Text && !shared) model->check_context(seq, "--seq");
  CalibrationSet data = shared ? *load_calibration(a, dir, model->modality(), &info, samples)
                               : own_data(a, dir, *model, samples, seq, batch, seed, info);
  for (auto& b : data.batches) {
    if (b.input_ids.defined()) b.input_ids = b.input_ids.to(model->device());
    if (b.pixel_values.defined()) b.pixel_values = b.pixel_values.to(model->device());
  }
  const bool text = info.kind == "text";

  CalibrationResult result;
  std::optional<int64_t> experiment;
  if (store) {
    CalibrateRunSpec rs;
    rs.name = experiment_spec(*store, a, *model, RunKind::Calibrate).name;
    rs.device = device_description(model->device());
    rs.dataset = dataset_record(info.path, info.kind);
    rs.dataset.samples = data.samples;
    rs.settings = calibrate_settings(opts, data.samples, text ? seq : 0, seed, a.flag("first"), lo.dtype);
    CalibrateRun run = run_calibration(*store, *model, data, opts, rs, terminal_progress("calibrate"));
    result = std::move(run.result);
    experiment = run.experiment_id;
  } else {
    opts.expected_samples = data.samples;
    result = calibrate(*model, data.source(), opts, terminal_progress("calibrate"));
  }
  for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";

  if (a.flag("json")) {
    auto j = to_json(result);
    j[metric_names::kPeakRssMib] = peak_rss_mib();
    if (experiment) j["experiment"] = *experiment;
    std::cout << j.dump() << "\n";
    return 0;
  }
  Table t({"point", "absmax", "p99.99", "kurtosis", "outlier ch", "channels"}, {false, true, true, true, true, true});
  for (const auto& p : result.points)
    t.add({p.point, fixed(p.all.absmax, 4), fixed(p.all.percentiles.p99_99, 4), fixed(p.all.kurtosis, 2),
           std::to_string(p.outliers.channels.size()), std::to_string(p.channels)});
  std::cout << t.str() << "\n"
            << result.points.size() << " points, " << result.weights.size() << " layers' weights; " << result.samples
            << " samples";
  if (result.tokens) std::cout << " (" << with_commas(result.tokens) << " tokens)";
  std::cout << " in " << fixed(result.seconds, 1) << " s; peak memory " << fixed(peak_rss_mib(), 0) << " MiB\n";
  if (experiment) std::cout << "experiment " << *experiment << " in " << store->path() << "\n";
  return 0;
}

}  // namespace quench::cli
