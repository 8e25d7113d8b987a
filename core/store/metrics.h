#pragma once
// The metrics runs record, in one table: what each is called on screen and which direction is
// better. The compare window colours deltas and names rows from it; metric_names holds the keys,
// and no other file spells one out.
#include <string>
#include <vector>

namespace quench {

namespace metric_names {
// Every key the table knows; code that writes or reads a metric names it through these.
inline constexpr const char* kPerplexity = "perplexity";
inline constexpr const char* kNll = "nll";
inline constexpr const char* kKl = "kl";
inline constexpr const char* kTop1 = "top1";
inline constexpr const char* kTop5 = "top5";
inline constexpr const char* kTop1Agreement = "top1_agreement";
inline constexpr const char* kLogitsSqnrDb = "logits_sqnr_db";
inline constexpr const char* kParameters = "parameters";
inline constexpr const char* kSizeBytes = "size_bytes";  // compressed model size in bytes
inline constexpr const char* kBitsPerWeight = "bits_per_weight";  // average over compressible weights
inline constexpr const char* kQuantizedBitsPerWeight = "quantized_bits_per_weight";
inline constexpr const char* kKvBitsPerElement = "kv_bits_per_element";
inline constexpr const char* kCompression = "compression";
inline constexpr const char* kTokens = "tokens";
inline constexpr const char* kImages = "images";
inline constexpr const char* kSamples = "samples";
inline constexpr const char* kSeconds = "seconds";
inline constexpr const char* kCompressSeconds = "compress_seconds";
inline constexpr const char* kEvalSeconds = "eval_seconds";
inline constexpr const char* kSensitivitySeconds = "sensitivity_seconds";
inline constexpr const char* kSensitivityUnits = "sensitivity_units";
inline constexpr const char* kPeakRssMib = "peak_rss_mib";
inline constexpr const char* kPeakGpuMemoryMib = "peak_gpu_memory_mib";
inline constexpr const char* kPackedLayers = "packed_layers";
inline constexpr const char* kPrefillTokensPerSecond = "prefill_tokens_per_second";
inline constexpr const char* kDecodeTokensPerSecond = "decode_tokens_per_second";
inline constexpr const char* kDecodeTokensPerSecondB16 = "decode_tokens_per_second_b16";
inline constexpr const char* kDecodeCacheMib = "decode_cache_mib";
inline constexpr const char* kExportBytes = "export_bytes";
inline constexpr const char* kExportSeconds = "export_seconds";
inline constexpr const char* kExportCheckSeconds = "export_check_seconds";
inline constexpr const char* kExportTensorsChecked = "export_tensors_checked";
inline constexpr const char* kExportTensorsInexact = "export_tensors_inexact";
inline constexpr const char* kExportWeightMaxAbsError = "export_weight_max_abs_error";
inline constexpr const char* kExportTop1Agreement = "export_top1_agreement";
inline constexpr const char* kExportKl = "export_kl";
inline constexpr const char* kExportLogitsRelError = "export_logits_rel_error";
inline constexpr const char* kSuggestedBitsPerWeight = "suggested_bits_per_weight";
inline constexpr const char* kSuggestedSparsity = "suggested_sparsity";
inline constexpr const char* kSuggestedPredictedDelta = "suggested_predicted_delta";
// A metric's value for the float model is stored under its key with this suffix ("perplexity_float").
inline constexpr const char* kFloatSuffix = "_float";
std::string float_of(const std::string& name);
// decode_tokens_per_second at batch 1, decode_tokens_per_second_b<N> beyond.
std::string decode_tokens_per_second(int batch);
}  // namespace metric_names

enum class Better { Lower, Higher, Neither };

struct MetricInfo {
  const char* name;   // the stored key
  const char* label;  // what a table calls it ("" = the key itself)
  Better better;
};

const std::vector<MetricInfo>& metric_table();

// The table's row for `name`; a key ending in "_float" (the float model's value of a metric) is
// its metric's row with that label; nullptr for keys the table does not know.
const MetricInfo* find_metric(const std::string& name);

// Which direction is better: the table's, else by the key's form (…_seconds and …rel_mse lower,
// …sqnr… higher), else Neither.
Better better_direction(const std::string& name);

// The table's label, "<label> of the float model" for a known "…_float" key, else the key.
std::string metric_label(const std::string& name);

}  // namespace quench
