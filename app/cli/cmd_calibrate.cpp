#include <sys/resource.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/progress_printer.h"
#include "app/cli/record.h"
#include "core/data/idx.h"
#include "core/data/image_dataset.h"
#include "core/data/text_source.h"
#include "core/data/token_windows.h"
#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "core/stats/record.h"
#include "core/stats/serialize.h"
#include "core/store/fingerprint.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

namespace quench::cli {

namespace {
const char* kUsage =
    "usage: quench-cli calibrate MODEL_DIR (--text FILE | --images IDX | --image-folder DIR)\n"
    "                            [--samples 128] [--seq 256] [--seed 0] [--first] [--batch 8] [--points PATTERN]\n"
    "                            [--outlier-multiple 4] [--device cpu|cuda] [--dtype float32|float16|bfloat16]\n"
    "                            [--json] [--db FILE] [--name NAME] [--no-record]\n"
    "Runs calibration data through the model and collects statistics at every observable point that\n"
    "matches PATTERN (comma-separated globs over point names, e.g. '*:x,*self_attn:k'; default '*'), plus\n"
    "weight statistics for every layer. Text: --samples windows of --seq tokens, at random positions\n"
    "(seeded) or the first ones with --first. Images: --samples images (all with 0).\n"
    "Prints one row per point (absmax, p99.99 of |x|, kurtosis, outlier channels); --json prints\n"
    "everything, histograms' edges and counts included. The run is recorded as a 'calibrate' experiment.\n";

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}
}  // namespace

int cmd_calibrate(const Argv& argv) {
  Args a(argv, with_record_flags({"json", "first"}),
         with_record_options({"text", "images", "image-folder", "samples", "seq", "seed", "batch", "points", "outlier-multiple",
                              "device", "dtype"}));
  if (a.help()) {
    std::cout << kUsage;
    return 0;
  }
  a.expect_positional({"MODEL_DIR"});
  const std::string dir = a.positional()[0];
  const int sources = (a.get("text") ? 1 : 0) + (a.get("images") ? 1 : 0) + (a.get("image-folder") ? 1 : 0);
  if (sources != 1) throw UsageError("give exactly one of --text, --images or --image-folder");
  const int64_t samples = a.get_int("samples", 128), seq = a.get_int("seq", 256), batch = a.get_int("batch", 8);
  const auto seed = static_cast<uint64_t>(a.get_int("seed", 0));
  if (samples < 0 || seq <= 0 || batch <= 0) throw UsageError("--samples must be ≥ 0, --seq and --batch positive");
  CalibrationOptions opts;
  opts.points = a.get("points", "*");
  opts.outlier_multiple = a.get_double("outlier-multiple", opts.outlier_multiple);
  if (opts.outlier_multiple <= 1) throw UsageError("--outlier-multiple must be larger than 1");
  LoadOptions lo;
  lo.device = parse_device(a.get("device", "cpu"));
  lo.dtype = parse_dtype(a.get("dtype", "float32"));

  auto store = open_store_for(a);
  auto model = load_model(dir, lo);
  const bool text = model->modality() == Modality::Text;
  if (text != static_cast<bool>(a.get("text")))
    throw UsageError(model->architecture() + (text ? " is a language model: calibrate it with --text" : " takes images: use --images or --image-folder"));

  // Inputs, prepared up front so the batch source only slices.
  at::Tensor windows;  // I64 [N, seq]
  ImageDataset images;
  ImagePreprocessor pre;
  std::string data_path;
  if (text) {
    data_path = *a.get("text");
    auto ids = Tokenizer::from_model_dir(dir).encode(read_text_source(data_path).text);
    auto t = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
    windows = sample_windows(t, samples == 0 ? t.numel() / seq : samples, seq, !a.flag("first"), seed);
  } else {
    data_path = a.get("images").value_or(a.get("image-folder").value_or(""));
    if (a.get("images")) {
      images.images = read_idx_images(data_path).unsqueeze(-1);
      images.source = data_path;
    } else {
      images = load_image_folder(data_path, &model->config());
    }
    pre = ImagePreprocessor::from_model_dir(dir);
    const int64_t n = images.size();
    if (samples > 0 && samples < n) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      if (!a.flag("first")) std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
      order.resize(static_cast<size_t>(samples));
      images.images = images.images.index_select(0, at::tensor(order, at::kLong));
    }
  }
  const int64_t total = text ? windows.size(0) : images.size();
  int64_t next = 0;
  BatchSource source = [&]() -> std::optional<ModelInputs> {
    if (next >= total) return std::nullopt;
    const int64_t b = std::min(batch, total - next);
    ModelInputs in;
    if (text) in.input_ids = windows.narrow(0, next, b).to(model->device());
    else in.pixel_values = pre(images.images.narrow(0, next, b)).to(model->device());
    next += b;
    return in;
  };
  opts.expected_samples = total;

  std::optional<ExperimentWriter> run;
  std::optional<int64_t> dataset_id;
  if (store) {
    auto spec = experiment_spec(*store, a, *model, "calibrate");
    auto ds = dataset_record(data_path, text ? "text" : "images");
    ds.samples = total;
    dataset_id = store->add_dataset(ds);
    spec.datasets = {{*dataset_id, "calib"}};
    spec.recipe = {{"calibrate", {{"samples", total}, {"seq", text ? seq : 0}, {"seed", seed}, {"first", a.flag("first")},
                                  {"points", opts.points}, {"outlier_multiple", opts.outlier_multiple},
                                  {"dtype", dtype_string(lo.dtype)}}}};
    run.emplace(store->begin(spec));
  }
  CalibrationResult result;
  try {
    result = calibrate(*model, source, opts, terminal_progress("calibrate"));
    if (run) {
      for (const auto& ls : to_layer_stats(result)) run->add_layer_stats(ls);
      run->add_metric("samples", static_cast<double>(result.samples), dataset_id);
      if (result.tokens) run->add_metric("tokens", static_cast<double>(result.tokens), dataset_id);
      run->add_metric("seconds", result.seconds);
      run->add_metric("peak_rss_mib", peak_rss_mib());
      run->finish();
    }
  } catch (...) {
    if (run) run->finish_with(std::current_exception());
    throw;
  }
  for (const auto& w : result.warnings) std::cerr << "warning: " << w << "\n";

  if (a.flag("json")) {
    auto j = to_json(result);
    j["peak_rss_mib"] = peak_rss_mib();
    if (run) j["experiment"] = run->id();
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
  if (run) std::cout << "experiment " << run->id() << " in " << store->path() << "\n";
  return 0;
}

}  // namespace quench::cli
