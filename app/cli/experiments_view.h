#pragma once
// Human-readable views of stored experiments for `quench-cli experiments`: the list table, one
// experiment in full, and a comparison. The JSON forms come from core/store/record_json.h.
#include <string>
#include <vector>

#include "core/store/compare.h"
#include "core/store/records.h"

namespace quench::cli {

std::string view_list(const std::vector<ExperimentSummary>& list);
std::string view_show(const ExperimentDetail& d);
std::string view_compare(const Comparison& c);

// "1m 03s", "2h 05m", "0.4s".
std::string format_duration(double seconds);
// Shortest readable form of a metric or error value (6 significant digits).
std::string format_number(double v);

}  // namespace quench::cli
