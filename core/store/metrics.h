#pragma once
// The metrics runs record, in one table: what each is called on screen and which direction is
// better. The compare window colours deltas and names rows from it; records.h's metric_names are
// the keys that code writes by name.
#include <string>
#include <vector>

namespace quench {

namespace metric_names {
inline constexpr const char* kSizeBytes = "size_bytes";            // compressed model size in bytes
inline constexpr const char* kBitsPerWeight = "bits_per_weight";   // average over compressible weights
inline constexpr const char* kPerplexity = "perplexity";
inline constexpr const char* kTop1 = "top1";
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
