#include "core/store/records.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <ostream>

#include "core/store/sha256.h"
#include "core/util/error.h"

namespace quench {

namespace {
constexpr std::pair<RunStatus, const char*> kStatusNames[] = {
    {RunStatus::Running, "running"},     {RunStatus::Completed, "completed"},     {RunStatus::Failed, "failed"},
    {RunStatus::Cancelled, "cancelled"}, {RunStatus::Interrupted, "interrupted"},
};
constexpr std::pair<RunKind, const char*> kKindNames[] = {
    {RunKind::Compress, "compress"}, {RunKind::Evaluate, "evaluate"}, {RunKind::Sensitivity, "sensitivity"}, {RunKind::Calibrate, "calibrate"},
};
}  // namespace

const char* run_kind_name(RunKind k) {
  for (const auto& [kind, name] : kKindNames)
    if (kind == k) return name;
  return "?";
}

std::ostream& operator<<(std::ostream& os, RunKind k) { return os << run_kind_name(k); }

RunKind parse_run_kind(const std::string& s) {
  std::string valid;
  for (const auto& [kind, name] : kKindNames) {
    if (s == name) return kind;
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  throw UsageError("unknown run kind '" + s + "' (one of " + valid + ")");
}

const char* status_name(RunStatus s) {
  for (const auto& [st, name] : kStatusNames)
    if (st == s) return name;
  return "?";
}

RunStatus parse_status(const std::string& s) {
  std::string valid;
  for (const auto& [st, name] : kStatusNames) {
    if (s == name) return st;
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  throw UsageError("unknown experiment status '" + s + "' (one of " + valid + ")");
}

Artifact Artifact::of_file(const std::string& path, const std::string& kind) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  QUENCH_CHECK(!ec, path, ": cannot record as an artifact (", ec.message(), ")");
  Artifact a;
  a.path = std::filesystem::absolute(path).lexically_normal().string();
  a.kind = kind;
  a.sha256 = sha256_file(path);
  a.bytes = static_cast<int64_t>(size);
  return a;
}

std::optional<int64_t> parse_store_time(const std::string& iso) {
  std::tm tm{};
  int ms = 0, used = 0;
  if (std::sscanf(iso.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms, &used) != 7 ||
      static_cast<size_t>(used) != iso.size())
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::optional<double> run_seconds(const ExperimentSummary& e) {
  const auto start = parse_store_time(e.started_at);
  const auto end = parse_store_time(e.finished_at ? *e.finished_at : e.updated_at);
  if (!start || !end) return std::nullopt;
  return static_cast<double>(*end - *start) / 1000.0;
}

}  // namespace quench
