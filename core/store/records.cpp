#include "core/store/records.h"

#include <filesystem>

#include "core/store/sha256.h"
#include "core/util/error.h"

namespace quench {

namespace {
constexpr std::pair<RunStatus, const char*> kStatusNames[] = {
    {RunStatus::Running, "running"},     {RunStatus::Completed, "completed"},     {RunStatus::Failed, "failed"},
    {RunStatus::Cancelled, "cancelled"}, {RunStatus::Interrupted, "interrupted"},
};
}  // namespace

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

}  // namespace quench
