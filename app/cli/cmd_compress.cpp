#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/job_inputs.h"
#include "app/cli/progress_printer.h"
#include "app/cli/record.h"
#include "core/compress/compress.h"
#include "core/compress/plan_text.h"
#include "core/compress/recipe.h"
#include "core/compress/save_model.h"
#include "core/compress/size_estimate.h"
#include "core/eval/evaluate.h"
#include "core/export/gguf_import.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/runs/compress_run.h"
#include "core/store/fingerprint.h"
#include "core/store/metrics.h"
#include "core/store/store.h"
#include "core/util/error.h"

namespace quench::cli {

namespace {
std::string opt_fixed(const std::optional<double>& v, int d) { return v ? fixed(*v, d) : "-"; }

void print_plan(const ResolvedRecipe& plan, const SizeEstimate& size) {
  Table t({"layer", "kind", "setting"});
  for (const auto& l : plan.layers) t.add({l.layer, kind_name(l.kind), setting_text(l)});
  for (const auto& k : plan.kv)
    t.add({k.module, "kv_cache", k.kv.describe()});
  for (const auto& p : plan.points) t.add({p.point, "point", p.act.describe()});
  std::cout << t.str();
  if (plan.structured)
    std::cout << "structured  " << plan.structured->describe()
              << ": which channels and heads go is decided on the calibration data, so the size below does not count it yet\n";
  std::cout << "size        " << human_bytes(static_cast<uint64_t>(size.bytes)) << " (from " << human_bytes(static_cast<uint64_t>(size.original_bytes))
            << " at 16 bits, " << fixed(size.compression(), 2) << "x)\n"
            << "bits/weight " << fixed(size.bits_per_weight, 3) << " over all layers, " << fixed(size.quantized_bits_per_weight, 3)
            << " over the quantized ones\n";
  if (size.stored_params != size.original_params)
    std::cout << "parameters  " << with_commas(size.stored_params) << " stored (from " << with_commas(size.original_params) << ")\n";
  for (const auto& w : plan.warnings) std::cout << "warning: " << w << "\n";
}
// What structured pruning kept, block by block.
void print_structured(const nlohmann::json& st) {
  const auto& o = st["outcome"];
  Table t({"block", "MLP channels", "heads", "kv heads"}, {false, true, true, true});
  auto pair = [](const nlohmann::json& p) {
    const int64_t a = p[0].get<int64_t>(), b = p[1].get<int64_t>();
    return a == b ? std::to_string(a) : std::to_string(a) + " → " + std::to_string(b);
  };
  for (const auto& b : o["blocks"]) t.add({b["block"].get<std::string>(), pair(b["channels"]), pair(b["heads"]), pair(b["kv_heads"])});
  std::cout << "structured  " << st["method"].get<std::string>() << ", ratio " << fixed(st["ratio"].get<double>(), 2) << " of "
            << st["target"].get<std::string>() << ": " << with_commas(o["params_before"].get<int64_t>()) << " → "
            << with_commas(o["params_after"].get<int64_t>()) << " parameters in the pruned layers\n"
            << t.str();
}
}  // namespace

int cmd_compress(const Argv& argv) {
  Args a("compress",
         "Compresses MODEL_DIR as the recipe says (fake-quantization: weights quantized and dequantized, activations\n"
         "and the KV cache quantized in the forward pass), records one `compress` experiment with per-layer settings,\n"
         "bits, weight and output errors, the size estimate and the evaluation metrics, and prints a summary.\n"
         "A run needs calibration data (--calib, --calib-images or --calib-image-folder); --plan does not.");
  a.positional("MODEL_DIR", "the model folder, or a .gguf file (converted once into a checkpoint)");
  a.option("recipe", "R.json|SCHEME|PRESET",
           "a recipe file (docs/recipes.md), a scheme (W8A8, W8A16, W4A16, W4A8, W4A16-G64, ...) or a preset (quamba). "
           "Recipe errors are reported before anything is recorded")
      ->required();
  add_calibration_options(a, 64, 256);
  add_evaluation_options(a, "the compressed model is evaluated on it as `quench-cli eval` does");
  a.option("batch", "N", "evaluation windows or images per forward pass", "16");
  a.flag("fidelity", "with evaluation data: also load the float model and record KL, top-1 agreement and logits SQNR");
  a.flag("speed", "measure the compressed model's generation on this device (a prefill of --ctx, else --seq, tokens; "
                  "decoding at batch 1 and 16) and record the tokens/s with the run (text models)");
  a.flag("packed", "run --eval and --speed with the 4-bit layers computed from their packed integers (int4, eight to an "
                   "int32, float32 scales: the compressed-tensors layout) instead of fake-quantized floats; on CUDA, "
                   "decoding's few rows use Quench's W4A16 kernel. Other layers run as they are. The compressed weights "
                   "run from memory: not with --max-memory");
  a.option("measure-samples", "N", "calibration samples on which per-layer output errors are measured (0: skip)", "16");
  a.option("search-samples", "N", "AWQ: calibration samples each candidate scale is scored on (block outputs)", "16");
  add_device_options(a);
  add_max_memory_option(a);
  a.declared("packed")->excludes(a.declared("max-memory"));
  a.option("save-model", "PATH",
           "write the compressed model to PATH. As safetensors (the default --format): a new or empty folder holding a "
           "checkpoint that quench-cli reads back: structurally pruned layers with their smaller shapes, pruned and "
           "quantized weights as their (dequantized) float values in the source checkpoint's dtype; recipes with "
           "activation or KV-cache quantization, rotations or low-rank factors are refused (they live in the forward pass)");
  a.option("format", "safetensors|gguf|compressed-tensors",
           "how --save-model writes PATH. safetensors: see --save-model. gguf: one GGUF file for llama.cpp (llama, "
           "mistral, qwen2, qwen3, gpt2, mamba, mamba2): layers quantized with a GGUF scheme (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, "
           "Q4_K, Q6_K, or weights.format) are stored as exactly those blocks, the rest in --float-type. "
           "compressed-tensors: a folder for vLLM, SGLang and transformers: integer weights packed (pack-quantized) "
           "or int8 with input activations (W8A8, int-quantized: dynamic per token, or static per tensor with each "
           "layer's calibrated input_scale and zero point), 2:4-pruned layers as sparse-24-bitmask, scales in F32; "
           "ggml formats, output activations, KIVI KV-cache quantization, rotations and low-rank factors are refused",
           "safetensors");
  a.option("float-type", "f16|bf16|f32",
           "--format gguf: the type of the tensors not stored as quantized blocks (default: the checkpoint's dtype, F32 "
           "checkpoints as F16)");
  a.flag("force", "replace an existing GGUF file or a non-empty compressed-tensors directory");
  a.flag("no-export-check",
         "skip the check that follows every --save-model: the written model is opened again (a GGUF file through "
         "Quench's importer) and its logits on 4 calibration samples are compared with the compressed model's; "
         "recorded as export_top1_agreement, export_kl, export_logits_rel_error. A GGUF of more than 2 billion "
         "parameters is read back tensor by tensor instead and compared with the compressed model's tensors: "
         "export_tensors_checked, export_tensors_inexact, export_weight_max_abs_error");
  for (const char* o : {"format", "float-type", "force", "no-export-check"}) a.declared(o)->needs(a.declared("save-model"));
  a.flag("plan", "resolve the recipe, print each layer's setting and the size estimate, record nothing");
  a.flag("json", "one JSON object: {experiment_id, plan, size, layers, metrics, warnings}");
  add_record_options(a, RunKind::Compress);
  a.declared("name")->description("the experiment's name (default: the recipe's \"name\", else \"compress RECIPE\")");
  a.footer("With --max-memory, compressing a streamed model writes each compressed block to a temporary file (in the\n"
           "compute dtype) and reads it back from there; SmoothQuant, FLAP, RepQ-ViT, Quamba2 and static activation\n"
           "scales need the whole model and are refused.");
  if (!a.parse(argv)) return 0;
  const std::string dir = resolve_model_path(a.positional()[0]);  // a .gguf file: its converted checkpoint
  const std::string recipe_arg = a.require("recipe");
  LoadOptions lo;
  lo.device = parse_device(*a.get("device"));
  lo.dtype = parse_dtype(*a.get("dtype"));
  lo.max_memory = max_memory_option(a);
  MemoryPlan memory;
  lo.plan = &memory;
  const int64_t measure = a.get_int("measure-samples");
  if (measure < 0) throw UsageError("--measure-samples must be ≥ 0");
  const int64_t search = a.get_int("search-samples");
  if (search <= 0) throw UsageError("--search-samples must be positive");

  // Everything that can be wrong with the inputs is found before the experiment is recorded.
  const Recipe recipe = Recipe::load(recipe_arg);
  auto model = load_model(dir, lo);
  if (lo.max_memory) std::cerr << memory.describe() << "\n";
  const ResolvedRecipe plan = resolve(recipe, *model);
  const SizeEstimate estimate = estimate_size(*model, plan);
  // --format, --float-type, --force and --no-export-check need --save-model (declared above).
  const std::string save_dir = a.get("save-model", "");
  const std::string format = *a.get("format");
  if (format != "safetensors" && format != "gguf" && format != "compressed-tensors")
    throw UsageError("--format: \"" + format + "\" is not safetensors, gguf or compressed-tensors");
  if (!save_dir.empty() && format == "gguf") {
    const std::string why = gguf_exportable(*model, plan);
    if (!why.empty()) throw UsageError("--format gguf: " + why);
    check_gguf_target(save_dir, a.flag("force"));
  } else if (!save_dir.empty() && format == "compressed-tensors") {
    if (a.given("float-type")) throw UsageError("--float-type applies to --format gguf");
    const std::string why = ct_exportable(*model, plan);
    if (!why.empty()) throw UsageError("--format compressed-tensors: " + why);
    check_ct_target(save_dir, a.flag("force"));
  } else if (!save_dir.empty()) {
    if (a.given("float-type") || a.flag("force")) throw UsageError("--float-type and --force apply to --format gguf or compressed-tensors");
    const std::string why = saveable_reason(plan);
    if (!why.empty()) throw UsageError("--save-model: " + why);
    check_save_target(save_dir);
  }
  if (a.flag("plan")) {
    if (a.flag("json")) std::cout << nlohmann::json({{"plan", plan.to_json()}, {"size", estimate.to_json()}}).dump() << "\n";
    else print_plan(plan, estimate);
    return 0;
  }
  DataInfo calib_info;
  auto calib = load_calibration(a, dir, model->modality(), &calib_info, model->modality() == Modality::Text ? 64 : 256);
  if (!calib) throw UsageError("missing calibration data: --calib FILE (text) or --calib-images IDX (images)");
  ImageDataset eval_images;
  auto eval = load_evaluation(a, dir, model->modality(), eval_images);
  if (a.flag("fidelity") && !eval) throw UsageError("--fidelity needs evaluation data (--eval or --eval-images)");
  if (eval) eval->options.batch = a.get_int("batch");

  StoreOrScratch db(a);
  Store& store = db.store();
  const bool record = db.recorded();
  CompressRunSpec rs;
  rs.name = a.get("name", recipe.name.empty() ? "compress " + recipe_arg : recipe.name);
  rs.device = *a.get("device");
  rs.calib = dataset_record(calib_info.path, calib_info.kind);
  rs.calib.samples = calib_info.samples;
  std::unique_ptr<Model> reference;
  if (eval) {
    rs.eval_dataset = dataset_record(eval->info.path, eval->info.kind);
    rs.eval = &eval->data;
    rs.eval_options = eval->options;
    if (a.flag("fidelity")) reference = load_model(dir, lo);
    rs.reference = reference.get();
  }
  rs.options.measure_samples = measure;
  rs.options.search_samples = search;
  rs.save_dir = save_dir;
  rs.save_format = format;
  rs.gguf.float_type = a.get("float-type", "");
  rs.gguf.force = a.flag("force");
  rs.ct.force = a.flag("force");
  if (a.flag("no-export-check")) rs.export_check_samples = 0;
  if (a.flag("speed")) {
    if (!model->can_decode())
      throw UsageError("--speed measures decoding, and " + model->architecture() + " has no decoding cache (text models have one)");
    rs.speed_prompt_tokens = eval ? eval->options.ctx : a.get_int("seq");
  }
  rs.packed = a.flag("packed");
  const CompressRun run = run_compress(store, *model, recipe, plan, *calib, rs, terminal_progress("compress"));
  const CompressResult& result = run.result;
  const nlohmann::json& metrics = run.metrics;

  if (a.flag("json")) {
    nlohmann::json j;
    j["experiment_id"] = record ? nlohmann::json(run.experiment_id) : nlohmann::json();
    j["plan"] = plan.to_json();
    j["size"] = result.size.to_json();
    j["metrics"] = metrics;
    j["warnings"] = result.warnings;
    j["details"] = result.details;
    j["layers"] = nlohmann::json::array();
    for (const auto& l : result.layers) {
      nlohmann::json lj = {{"layer", l.layer}, {"kind", l.kind}, {"settings", l.settings}};
      if (l.bits) lj["bits"] = *l.bits;
      if (l.weight_rel_mse) lj["weight_rel_mse"] = *l.weight_rel_mse;
      if (l.weight_sqnr_db) lj["weight_sqnr_db"] = *l.weight_sqnr_db;
      if (l.output_rel_mse) lj["output_rel_mse"] = *l.output_rel_mse;
      if (l.output_sqnr_db) lj["output_sqnr_db"] = *l.output_sqnr_db;
      if (l.sparsity) lj["sparsity"] = *l.sparsity;
      if (l.rank) lj["rank"] = *l.rank;
      if (l.params_before) lj["params_before"] = *l.params_before;
      if (l.params_after) lj["params_after"] = *l.params_after;
      j["layers"].push_back(lj);
    }
    std::cout << j.dump() << "\n";
    return 0;
  }
  // Sparsity, rank and parameters only when a layer is pruned or factored.
  bool structural = false;
  for (const auto& l : result.layers) structural = structural || l.sparsity || l.rank || l.settings.contains("structured");
  std::vector<std::string> header = {"layer", "kind", "bits", "weight SQNR dB", "output SQNR dB", "output rel MSE"};
  std::vector<bool> right = {false, false, true, true, true, true};
  if (structural) {
    header.insert(header.end(), {"sparsity", "rank", "params"});
    right.insert(right.end(), {true, true, true});
  }
  Table t(header, right);
  for (const auto& l : result.layers) {
    std::vector<std::string> row = {l.layer, l.kind, opt_fixed(l.bits, 2), opt_fixed(l.weight_sqnr_db, 1), opt_fixed(l.output_sqnr_db, 1),
                                    l.output_rel_mse ? fixed(*l.output_rel_mse, 6) : "-"};
    if (structural)
      row.insert(row.end(), {opt_fixed(l.sparsity, 3), l.rank ? std::to_string(*l.rank) : "-", l.params_after ? with_commas(*l.params_after) : "-"});
    t.add(row);
  }
  std::cout << t.str();
  if (structural)
    std::cout << "parameters  " << with_commas(result.size.stored_params) << " stored (from " << with_commas(result.size.original_params) << ")\n";
  if (result.details.contains("structured")) print_structured(result.details["structured"]);
  std::cout << "experiment  " << (record ? "#" + std::to_string(run.experiment_id) + " (" + store.path() + ")" : "not recorded (--no-record)") << "\n"
            << "size        " << human_bytes(static_cast<uint64_t>(result.size.bytes)) << " (" << fixed(result.size.compression(), 2)
            << "x smaller than 16-bit), " << fixed(result.size.bits_per_weight, 3) << " bits/weight\n";
  for (auto it = metrics.begin(); it != metrics.end(); ++it) {
    const std::string& k = it.key();
    using namespace metric_names;
    if (k == kPerplexity || k == kTop1 || k == kTop5 || k == kKl || k == kTop1Agreement || k == kLogitsSqnrDb ||
        k.find("tokens_per_second") != std::string::npos)
      std::cout << k << std::string(k.size() < 12 ? 12 - k.size() : 1, ' ') << fixed(it.value().get<double>(), 4) << "\n";
  }
  std::cout << "seconds     " << fixed(result.seconds, 1) << " compressing\n";
  if (result.details.contains("streamed")) {
    const auto& secs = result.details["streamed"]["block_seconds"];
    double sum = 0, most = 0;
    for (const auto& v : secs) sum += v.get<double>(), most = std::max(most, v.get<double>());
    if (!secs.empty())
      std::cout << "streamed    " << secs.size() << " blocks one at a time, " << fixed(sum / static_cast<double>(secs.size()), 2)
                << " s per block on average (longest " << fixed(most, 2) << " s)\n";
  }
  if (result.details.contains("packed")) std::cout << "packed      " << result.details["packed"].get<std::string>() << "\n";
  for (const auto& warn : result.warnings) std::cout << "warning: " << warn << "\n";
  if (!save_dir.empty()) std::cout << "saved       " << save_dir << " (quench-cli inspect " << save_dir << ")\n";
  if (metrics.contains(metric_names::kExportTop1Agreement))
    std::cout << "reopened    top-1 agreement " << fixed(100 * metrics[metric_names::kExportTop1Agreement].get<double>(), 2) << "%, max |Δlogit| / max |logit| "
              << metrics[metric_names::kExportLogitsRelError].get<double>() << ", KL " << metrics[metric_names::kExportKl].get<double>()
              << " (the saved file against the compressed model, " << std::min<int64_t>(rs.export_check_samples, calib->samples)
              << " calibration samples)\n";
  if (metrics.contains(metric_names::kExportTensorsChecked)) {
    const auto inexact = static_cast<int64_t>(metrics[metric_names::kExportTensorsInexact].get<double>());
    std::cout << "read back   " << static_cast<int64_t>(metrics[metric_names::kExportTensorsChecked].get<double>()) << " tensors from the file, "
              << (inexact == 0 ? std::string("every one equal to the compressed model's")
                               : std::to_string(inexact) + " different (largest |Δ| " + std::to_string(metrics[metric_names::kExportWeightMaxAbsError].get<double>()) + ")")
              << " (a GGUF this large is checked tensor by tensor, not reopened as a second model)\n";
  }
  if (metrics.contains(metric_names::kExportTop1Agreement) &&
      (!plan.kv.empty() || std::any_of(plan.layers.begin(), plan.layers.end(), [](const LayerPlan& l) { return l.input.has_value(); })))
    std::cout << "            (the engine quantizes activations and the KV cache as it runs, with the file's settings and scales;\n"
                 "            Quench's reopened model runs them in float, so this difference is that quantization)\n";
  return 0;
}

}  // namespace quench::cli
