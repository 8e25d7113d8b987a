#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/progress_printer.h"
#include "app/cli/record.h"
#include "core/data/image_dataset.h"
#include "core/data/text_source.h"
#include "core/eval/evaluate.h"
#include "core/export/gguf_import.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/runs/eval_run.h"
#include "core/runs/packed_execution.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

namespace quench::cli {

int cmd_eval(const Argv& argv) {
  Args a("eval",
         "Text: perplexity over windows of --ctx tokens, tokenized with MODEL_DIR/tokenizer.json, no special tokens added.\n"
         "Images: top-1 and top-5 accuracy, preprocessed as MODEL_DIR/preprocessor_config.json says.\n"
         "The run is recorded as an 'evaluate' experiment in the store unless --no-record; compare runs with\n"
         "`quench-cli experiments compare`.");
  a.positional("MODEL_DIR", "the model folder, or a .gguf file (converted once into a checkpoint)");
  a.option("text", "FILE", "a .txt file, a folder of .txt files or a .jsonl file with a \"text\" field");
  a.option("images", "IDX", "images, an IDX file (with --labels)");
  a.option("labels", "IDX", "the labels of --images");
  a.declared("images")->needs(a.declared("labels"));
  a.option("image-folder", "DIR", "images, a folder with a subfolder per class");
  a.one_of({"text", "images", "image-folder"}, true, "--text, --images (with --labels) or --image-folder");
  a.option("ctx", "N", "tokens per window", "256");
  a.option("stride", "N", "sliding windows N tokens apart (0: non-overlapping)", "0");
  a.option("max-windows", "N", "evaluate at most N text windows (0: all)", "0");
  a.option("max-images", "N", "evaluate at most N images (0: all)", "0");
  a.option("batch", "N", "windows or images per forward pass", "16");
  add_device_options(a);
  add_max_memory_option(a);
  a.flag("speed", "also measure generation on this device: a prefill of --ctx tokens, then decoding at batch 1 and 16 "
                  "(tokens/s, recorded with the run; text models)");
  a.flag("packed", "run the 4-bit layers of a compressed-tensors checkpoint from their stored integers (on CUDA, decoding's few "
                   "rows through Quench's W4A16 kernel) instead of decoding them to floats first. The weights run from "
                   "memory: not with --max-memory");
  a.declared("packed")->excludes(a.declared("max-memory"));
  a.flag("json", "one object: {\"metric\":\"perplexity\",\"value\",\"tokens\",\"seconds\"} or "
                 "{\"metric\":\"top1\",\"value\",\"top5\",\"n\",\"seconds\"}");
  add_record_options(a, RunKind::Evaluate);
  if (!a.parse(argv)) return 0;
  const std::string dir = resolve_model_path(a.positional()[0]);  // a .gguf file: its converted checkpoint
  EvalOptions o;
  o.ctx = a.get_int("ctx");
  o.stride = a.get_int("stride");
  o.max_windows = a.get_int("max-windows");
  o.max_images = a.get_int("max-images");
  o.batch = a.get_int("batch");
  if (o.ctx <= 0 || o.batch <= 0) throw UsageError("--ctx and --batch must be positive");
  if (o.stride < 0 || o.max_windows < 0 || o.max_images < 0)
    throw UsageError("--stride, --max-windows and --max-images must be ≥ 0 (0: the default)");
  LoadOptions lo;
  lo.device = parse_device(*a.get("device"));
  lo.dtype = parse_dtype(*a.get("dtype"));
  lo.max_memory = max_memory_option(a);
  MemoryPlan plan;
  lo.plan = &plan;

  auto store = open_store_for(a);
  // The model first: a --ctx longer than its positions is refused before the text is read.
  auto model = load_model(dir, lo);
  if (lo.max_memory) std::cerr << plan.describe() << "\n";
  if (a.get("text")) model->check_context(o.ctx, "--ctx");
  std::optional<PackedExecution> packed;
  if (a.flag("packed")) {
    packed.emplace(*model);
    if (packed->packed() == 0)
      throw UsageError(dir + " has no 4-bit layer to run packed (" +
                       (packed->dense().empty() ? std::string("no integer-quantized weights") : packed->dense().front().first + ": " + packed->dense().front().second) + ")");
    std::cerr << "packed: " << packed->summary() << "\n";
  }
  const bool speed = a.flag("speed");
  if (speed && !model->can_decode())
    throw UsageError("--speed measures decoding, and " + model->architecture() + " has no decoding cache (text models have one)");
  EvalData data;
  ImageDataset images;
  if (auto text = a.get("text")) {
    if (model->modality() != Modality::Text)
      throw UsageError(model->architecture() + " classifies images: evaluate it with --images/--labels or --image-folder");
    auto tok = Tokenizer::from_model_dir(dir);
    auto src = read_text_source(*text);
    auto ids = tok.encode(src.text);
    const int64_t vocab = model->layers().front()->weight().size(0);
    for (const int32_t id : ids)
      QUENCH_CHECK(id >= 0 && id < vocab, dir, "/tokenizer.json gives token id ", id, " for ", *text, ", but the model's embedding has ",
                   vocab, " rows: the tokenizer does not belong to this model");
    data.token_ids = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
  } else {
    images = a.get("images") ? load_idx_dataset(*a.get("images"), *a.get("labels")) : load_image_folder(*a.get("image-folder"), nullptr);
    data.images = &images;
    data.preprocess = ImagePreprocessor::from_model_dir(dir);
    for (const auto& w : images.warnings) std::cerr << "warning: " << w << "\n";
  }
  if (model->modality() == Modality::Text && !data.token_ids.defined())
    throw UsageError(model->architecture() + " is a language model: evaluate it with --text");
  if (model->modality() == Modality::Image && data.token_ids.defined())
    throw UsageError(model->architecture() + " classifies images: evaluate it with --images/--labels or --image-folder");
  EvalResult r;
  std::optional<int64_t> experiment;
  std::optional<SpeedResult> sp;
  if (store) {
    EvalRunSpec rs;
    rs.name = experiment_spec(*store, a, *model, RunKind::Evaluate).name;
    rs.device = device_description(model->device());
    rs.dataset = dataset_record(a.get("text").value_or(a.get("images").value_or(a.get("image-folder").value_or(""))),
                                a.get("text") ? "text" : "images");
    rs.dataset.samples = data.token_ids.defined() ? data.token_ids.numel() : images.size();
    rs.settings = eval_settings(o, lo.dtype);
    if (packed) rs.settings["eval"]["packed_layers"] = packed->packed();
    rs.speed = speed;
    const EvalRun run = run_evaluation(*store, *model, data, o, rs, terminal_progress("eval"));
    r = run.result;
    experiment = run.experiment_id;
    sp = run.speed;
  } else {
    r = evaluate(*model, data, o, nullptr, terminal_progress("eval"));
    if (speed) sp = measure_speed(*model, o.ctx, {1, 16});
  }
  std::vector<std::pair<std::string, double>> speeds = sp ? speed_metrics(*sp) : std::vector<std::pair<std::string, double>>{};
  if (a.flag("json")) {
    nlohmann::json j;
    j["metric"] = r.metric;
    j["value"] = r.value;
    if (r.metric == metric_names::kPerplexity) {
      j[metric_names::kTokens] = r.tokens;
      j["windows"] = r.windows;
      j[metric_names::kNll] = r.nll;
    } else {
      j[metric_names::kTop5] = r.top5;
      j["n"] = r.n;
    }
    j[metric_names::kSeconds] = r.seconds;
    for (const auto& [name, value] : speeds) j[name] = value;
    if (packed) j[metric_names::kPackedLayers] = packed->packed();
    if (experiment) j["experiment"] = *experiment;
    std::cout << j.dump() << "\n";
  } else if (r.metric == metric_names::kPerplexity) {
    std::cout << "perplexity  " << fixed(r.value, 4) << "\n"
              << "tokens      " << with_commas(r.tokens) << " in " << r.windows << " windows of " << o.ctx << "\n"
              << "seconds     " << fixed(r.seconds, 1) << "\n";
    if (sp) {
      std::cout << "prefill     " << fixed(sp->prefill_tokens_per_second, 1) << " tokens/s (" << o.ctx << " tokens, batch 1)\n";
      for (const auto& [batch, tps] : sp->decode_tokens_per_second)
        std::cout << "decode      " << fixed(tps, 1) << " tokens/s at batch " << batch << "\n";
    }
    if (experiment) std::cout << "experiment  " << *experiment << " in " << store->path() << "\n";
  } else {
    std::cout << "top-1       " << fixed(r.value, 4) << "\n"
              << "top-5       " << fixed(r.top5, 4) << "\n"
              << "images      " << with_commas(r.n) << "\n"
              << "seconds     " << fixed(r.seconds, 1) << "\n";
    if (experiment) std::cout << "experiment  " << *experiment << " in " << store->path() << "\n";
  }
  return 0;
}

}  // namespace quench::cli
