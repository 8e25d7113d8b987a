// quench-cli diff: what quantization did to each layer of a model, against its float original.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "app/cli/progress_printer.h"
#include "core/eval/evaluate.h"
#include "core/eval/layer_diff.h"
#include "core/export/gguf_import.h"
#include "core/models/registry.h"
#include "core/runs/text_data.h"
#include "core/store/metrics.h"
#include "core/util/error.h"

namespace quench::cli {

namespace {
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

int cmd_diff(const Argv& argv) {
  Args a("diff",
         "Compares every compressible layer of QUANTIZED with the same layer of FLOAT_DIR, matched by Hugging Face name\n"
         "(a missing layer or a shape mismatch is an error):\n"
         "  SQNR dB     10·log10(Σw² / Σ(w−ŵ)²); \"exact\" when the weights are identical\n"
         "  rel MSE     Σ(w−ŵ)² / Σw²\n"
         "  outliers    the --top input channels (columns) holding the largest share of the layer's squared error, with\n"
         "              that share and the channel's largest |w| in the float model\n"
         "  type        how the layer is stored: its GGUF tensor type, or its compressed-tensors scheme\n"
         "              (\"int4 g128 asym act-order\", \"2:4 int8 channel\")");
  a.positional("FLOAT_DIR", "the float model folder");
  a.positional("QUANTIZED", "a .gguf file (converted once into ~/.cache/quench/gguf/, $XDG_CACHE_HOME), a compressed-tensors "
                            "checkpoint or any checkpoint folder");
  a.option("text", "FILE", "also both models' perplexity on the same windows of FILE (tokenized with FLOAT_DIR's tokenizer)");
  a.option("ctx", "N", "tokens per window", "256")->needs(a.declared("text"));
  a.option("max-windows", "N", "evaluate at most N windows (0: all)", "0")->needs(a.declared("text"));
  a.option("batch", "N", "windows per forward pass", "16");
  a.option("top", "N", "outlier channels shown per layer", "3");
  a.flag("json", "one object: {\"layers\": [{\"name\", \"type\", \"shape\", \"sqnr_db\" (null when exact), \"rel_mse\", \"exact\", "
                 "\"outliers\": [{\"channel\", \"error_share\", \"abs_max\"}]}], \"perplexity\": {\"float\", \"quantized\", \"tokens\", "
                 "\"windows\"}}");
  if (!a.parse(argv)) return 0;
  const std::string float_dir = a.positional()[0], quantized = a.positional()[1];
  const int64_t top = a.get_int("top");
  if (top < 0) throw UsageError("--top must be 0 or more");
  EvalOptions o;
  o.ctx = a.get_int("ctx");
  o.max_windows = a.get_int("max-windows");
  o.batch = a.get_int("batch");
  if (o.ctx <= 0 || o.batch <= 0) throw UsageError("--ctx and --batch must be positive");

  // Weights stay as stored (mapped) unless the models must run: the comparison reads one layer at a time.
  LoadOptions lo;
  lo.materialize = a.get("text").has_value();
  auto fm = load_model(float_dir, lo);
  auto qm = load_model(resolve_model_path(quantized), lo);
  const StoredTypes types(quantized, *qm);
  std::vector<LayerDiff> rows;
  for (const auto& lp : fm->layers()) {
    const Layer* ql = qm->find_layer(lp->name());
    QUENCH_CHECK(ql, quantized, ": has no layer ", lp->name(), " (the float model ", float_dir, " has)");
    LayerDiff r = diff_layer(*lp, *ql, top);
    r.type = types.of(lp->name());
    rows.push_back(std::move(r));
  }

  std::optional<EvalResult> pf, pq;
  if (auto text = a.get("text")) {
    EvalData data;
    data.token_ids = text_token_ids(float_dir, *text);
    pf = evaluate(*fm, data, o, nullptr, terminal_progress("float"));
    pq = evaluate(*qm, data, o, nullptr, terminal_progress("quantized"));
  }

  if (a.flag("json")) {
    nlohmann::json j;
    j["float"] = float_dir;
    j["quantized"] = quantized;
    j["layers"] = nlohmann::json::array();
    for (const auto& r : rows) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& o2 : r.worst) out.push_back({{"channel", o2.channel}, {"error_share", o2.share}, {"abs_max", o2.abs_max}});
      j["layers"].push_back({{"name", r.layer}, {"type", r.type}, {"shape", r.shape}, {"sqnr_db", number_or_null(r.sqnr_db())},
                             {"rel_mse", number_or_null(r.rel_mse())}, {"exact", r.exact()}, {"outliers", out}});
    }
    if (pf) j[metric_names::kPerplexity] = {{"float", pf->value}, {"quantized", pq->value}, {"tokens", pf->tokens}, {"windows", pf->windows}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::vector<std::string> header = {"layer"};
  if (types.known()) header.push_back("type");
  for (const char* h : {"shape", "SQNR dB", "rel MSE", "worst input channels (share of error, |w| max)"}) header.push_back(h);
  std::vector<bool> right(header.size(), false);
  right[header.size() - 3] = right[header.size() - 2] = true;
  Table t(header, right);
  for (const auto& r : rows) {
    std::vector<std::string> cells = {r.layer};
    if (types.known()) cells.push_back(r.type.empty() ? "-" : r.type);
    std::string worst;
    for (const auto& o2 : r.worst)
      worst += (worst.empty() ? "" : "  ") + std::to_string(o2.channel) + " (" + fixed(100 * o2.share, 1) + "%, " + fixed(o2.abs_max, 3) + ")";
    char mse[32];
    std::snprintf(mse, sizeof mse, "%.3e", r.rel_mse());
    cells.insert(cells.end(), {shape_string(r.shape), r.exact() ? "exact" : fixed(r.sqnr_db(), 2), r.exact() ? "0" : mse, worst});
    t.add(cells);
  }
  std::cout << t.str();
  if (pf) {
    std::cout << "\nperplexity  float " << fixed(pf->value, 4) << ", quantized " << fixed(pq->value, 4) << " ("
              << (pq->value >= pf->value ? "+" : "") << fixed(100 * (pq->value / pf->value - 1), 2) << "%) on " << with_commas(pf->tokens)
              << " tokens in " << pf->windows << " windows of " << o.ctx << "\n";
  }
  return 0;
}

}  // namespace quench::cli
