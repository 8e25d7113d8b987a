#include "core/store/metrics.h"

namespace quench {

const std::vector<MetricInfo>& metric_table() {
  using namespace metric_names;
  static const std::vector<MetricInfo> t = {
      {kPerplexity, "", Better::Lower},
      {kNll, "mean NLL (nats/token)", Better::Lower},
      {kKl, "KL from the float model", Better::Lower},
      {kTop1, "top-1 accuracy", Better::Higher},
      {kTop5, "top-5 accuracy", Better::Higher},
      {kTop1Agreement, "top-1 agreement with the float model", Better::Higher},
      {kLogitsSqnrDb, "logits SQNR (dB)", Better::Higher},
      {kParameters, "parameters", Better::Neither},
      {kSizeBytes, "size", Better::Lower},
      {kBitsPerWeight, "bits per weight", Better::Lower},
      {kQuantizedBitsPerWeight, "bits per weight of the quantized layers", Better::Lower},
      {kKvBitsPerElement, "", Better::Lower},
      {kCompression, "compression (× smaller)", Better::Higher},
      {kTokens, "tokens scored", Better::Neither},
      {kImages, "images scored", Better::Neither},
      {kSamples, "samples", Better::Neither},
      {kSeconds, "time (s)", Better::Lower},
      {kCompressSeconds, "compression time (s)", Better::Lower},
      {kEvalSeconds, "evaluation time (s)", Better::Lower},
      {kSensitivitySeconds, "sensitivity time (s)", Better::Lower},
      {kSensitivityUnits, "units measured", Better::Neither},
      {kPeakRssMib, "peak memory (MiB)", Better::Neither},
      {kPeakGpuMemoryMib, "peak GPU memory (MiB)", Better::Lower},
      {kPackedLayers, "layers run from packed integers", Better::Neither},
      {kPrefillTokensPerSecond, "prefill (tokens/s)", Better::Higher},
      {kDecodeTokensPerSecond, "decode at batch 1 (tokens/s)", Better::Higher},
      {kDecodeTokensPerSecondB16, "decode at batch 16 (tokens/s)", Better::Higher},
      {kDecodeCacheMib, "decoding cache at batch 1 (MiB)", Better::Lower},
      {kExportBytes, "export: size on disk", Better::Lower},
      {kExportSeconds, "export: time (s)", Better::Lower},
      {kExportCheckSeconds, "export: check time (s)", Better::Lower},
      {kExportTensorsChecked, "export: tensors checked", Better::Neither},
      {kExportTensorsInexact, "export: tensors not read back exactly", Better::Lower},
      {kExportWeightMaxAbsError, "export: largest weight error", Better::Lower},
      {kExportTop1Agreement, "export: top-1 agreement", Better::Neither},
      {kExportKl, "export: KL from the compressed model", Better::Neither},
      {kExportLogitsRelError, "export: logits relative error", Better::Neither},
      {kSuggestedBitsPerWeight, "suggestion: bits per weight", Better::Neither},
      {kSuggestedSparsity, "suggestion: sparsity", Better::Neither},
      {kSuggestedPredictedDelta, "suggestion: predicted damage", Better::Neither},
  };
  return t;
}

namespace metric_names {
std::string float_of(const std::string& name) { return name + kFloatSuffix; }
std::string decode_tokens_per_second(int batch) {
  return batch == 1 ? std::string(kDecodeTokensPerSecond) : std::string(kDecodeTokensPerSecond) + "_b" + std::to_string(batch);
}
}  // namespace metric_names

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
  const std::string suffix = metric_names::kFloatSuffix;
  if (ends_with(name, suffix)) return exact(name.substr(0, name.size() - suffix.size()));
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
