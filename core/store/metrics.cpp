#include "core/store/metrics.h"

namespace quench {

const std::vector<MetricInfo>& metric_table() {
  static const std::vector<MetricInfo> t = {
      {"perplexity", "", Better::Lower},
      {"nll", "mean NLL (nats/token)", Better::Lower},
      {"kl", "KL from the float model", Better::Lower},
      {"top1", "top-1 accuracy", Better::Higher},
      {"top5", "top-5 accuracy", Better::Higher},
      {"top1_agreement", "top-1 agreement with the float model", Better::Higher},
      {"logits_sqnr_db", "logits SQNR (dB)", Better::Higher},
      {"parameters", "parameters", Better::Neither},
      {"size_bytes", "size", Better::Lower},
      {"bits_per_weight", "bits per weight", Better::Lower},
      {"quantized_bits_per_weight", "bits per weight of the quantized layers", Better::Lower},
      {"kv_bits_per_element", "", Better::Lower},
      {"compression", "compression (× smaller)", Better::Higher},
      {"tokens", "tokens scored", Better::Neither},
      {"images", "images scored", Better::Neither},
      {"samples", "samples", Better::Neither},
      {"seconds", "time (s)", Better::Lower},
      {"compress_seconds", "compression time (s)", Better::Lower},
      {"eval_seconds", "evaluation time (s)", Better::Lower},
      {"sensitivity_seconds", "sensitivity time (s)", Better::Lower},
      {"sensitivity_units", "units measured", Better::Neither},
      {"peak_rss_mib", "peak memory (MiB)", Better::Neither},
      {"peak_gpu_memory_mib", "peak GPU memory (MiB)", Better::Lower},
      {"packed_layers", "layers run from packed integers", Better::Neither},
      {"prefill_tokens_per_second", "prefill (tokens/s)", Better::Higher},
      {"decode_tokens_per_second", "decode at batch 1 (tokens/s)", Better::Higher},
      {"decode_tokens_per_second_b16", "decode at batch 16 (tokens/s)", Better::Higher},
      {"decode_cache_mib", "decoding cache at batch 1 (MiB)", Better::Lower},
      {"export_bytes", "export: size on disk", Better::Lower},
      {"export_seconds", "export: time (s)", Better::Lower},
      {"export_check_seconds", "export: check time (s)", Better::Lower},
      {"export_tensors_checked", "export: tensors checked", Better::Neither},
      {"export_tensors_inexact", "export: tensors not read back exactly", Better::Lower},
      {"export_weight_max_abs_error", "export: largest weight error", Better::Lower},
      {"export_top1_agreement", "export: top-1 agreement", Better::Neither},
      {"export_kl", "export: KL from the compressed model", Better::Neither},
      {"export_logits_rel_error", "export: logits relative error", Better::Neither},
      {"suggested_bits_per_weight", "suggestion: bits per weight", Better::Neither},
      {"suggested_sparsity", "suggestion: sparsity", Better::Neither},
      {"suggested_predicted_delta", "suggestion: predicted damage", Better::Neither},
  };
  return t;
}

namespace {
const MetricInfo* exact(const std::string& name) {
  for (const auto& m : metric_table())
    if (name == m.name) return &m;
  return nullptr;
}
bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

const MetricInfo* find_metric(const std::string& name) {
  if (const MetricInfo* m = exact(name)) return m;
  if (ends_with(name, "_float")) return exact(name.substr(0, name.size() - 6));
  return nullptr;
}

Better better_direction(const std::string& name) {
  if (const MetricInfo* m = find_metric(name)) return m->better;
  if (ends_with(name, "seconds") || name.find("rel_mse") != std::string::npos) return Better::Lower;
  if (name.find("sqnr") != std::string::npos) return Better::Higher;
  return Better::Neither;
}

std::string metric_label(const std::string& name) {
  const MetricInfo* m = find_metric(name);
  if (!m) return name;
  const std::string base = *m->label ? m->label : m->name;
  return exact(name) ? base : base + " of the float model";
}

}  // namespace quench
