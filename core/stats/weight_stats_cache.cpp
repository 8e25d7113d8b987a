#include "core/stats/weight_stats_cache.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "core/io/atomic_file.h"
#include "core/io/checkpoint.h"
#include "core/stats/serialize.h"
#include "core/store/sha256.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench {

namespace fs = std::filesystem;

namespace {
// Bumped when WeightStats or its JSON changes: old entries then miss instead of misreading.
constexpr const char* kFormat = "quench-weight-stats-1";
constexpr uint64_t kMaxEntryBytes = 1ull << 30;

std::string file_identity(const fs::path& p) {
  struct stat st {};
  QUENCH_CHECK(::stat(p.c_str(), &st) == 0, p.string(), ": cannot read its size and time");
  return p.string() + " " + std::to_string(static_cast<int64_t>(st.st_size)) + " " +
         std::to_string(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
}
}  // namespace

std::string weight_stats_key(const Checkpoint& ckpt, const StatsOptions& opts) {
  const fs::path dir = fs::weakly_canonical(ckpt.dir());
  std::string text = std::string(kFormat) + "\n" + dir.string() + "\n";
  text += file_identity(dir / "config.json") + "\n";
  // the shard paths are the opened folder joined with their names: relative to the working directory when it was
  for (const std::string& f : ckpt.files()) text += file_identity(fs::weakly_canonical(fs::path(f))) + "\n";
  text += "bins " + std::to_string(opts.histogram_bins) + " outliers " + std::to_string(opts.outlier_multiple) + "\n";
  return sha256_hex(text);
}

std::optional<std::vector<WeightStats>> load_weight_stats(const fs::path& dir, const std::string& key, std::string* problem) {
  const fs::path path = dir / (key + ".cbor");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    const std::string bytes = read_file(path.string(), kMaxEntryBytes, "weight statistics cache");
    const nlohmann::json j = nlohmann::json::from_cbor(bytes);
    QUENCH_CHECK(j.is_object() && j.value("format", std::string()) == kFormat && j.contains("layers") && j["layers"].is_array(),
                 "not a weight statistics entry of this version");
    std::vector<WeightStats> out;
    for (const auto& l : j["layers"]) out.push_back(weight_stats_from_json(l));
    return out;
  } catch (const std::exception& e) {
    if (problem) *problem = path.string() + ": " + e.what() + " (removed; computing again)";
    fs::remove(path, ec);
    return std::nullopt;
  }
}

void store_weight_stats(const fs::path& dir, const std::string& key, const std::vector<WeightStats>& stats) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  QUENCH_CHECK(!ec, dir.string(), ": cannot create the weight statistics cache (", ec.message(), ")");
  nlohmann::json layers = nlohmann::json::array();
  for (const WeightStats& s : stats) layers.push_back(to_json(s));
  const std::vector<uint8_t> bytes = nlohmann::json::to_cbor(nlohmann::json{{"format", kFormat}, {"layers", std::move(layers)}});
  write_file_atomic((dir / (key + ".cbor")).string(), std::string(bytes.begin(), bytes.end()));
}

}  // namespace quench
