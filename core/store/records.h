#pragma once
// What the experiment store holds, as plain structs shared by the GUI, the CLI and the jobs that
// record runs. Ids are SQLite row ids (0 until stored). Times are UTC ISO 8601 with milliseconds
// ("2026-11-22T19:47:34.123Z"), which sort as text. Optional numbers are NULL in the database.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/store/array_blob.h"
#include "core/store/metrics.h"  // metric_names: size against quality across runs (the Pareto view)

namespace quench {

enum class RunStatus { Running, Completed, Failed, Cancelled, Interrupted };
const char* status_name(RunStatus s);                 // "running", ...
RunStatus parse_status(const std::string& s);         // throws UsageError listing the valid names

// What a run did; stored as its name.
enum class RunKind { Calibrate, Compress, Evaluate, Sensitivity };
// In the order menus and help list them.
inline constexpr RunKind kRunKinds[] = {RunKind::Compress, RunKind::Evaluate, RunKind::Sensitivity, RunKind::Calibrate};
const char* run_kind_name(RunKind k);                // "calibrate", ...
RunKind parse_run_kind(const std::string& s);        // throws UsageError listing the valid names
std::ostream& operator<<(std::ostream& os, RunKind k);  // its name (test failures print it)


struct ModelRecord {
  int64_t id = 0;
  std::string path;
  std::string architecture;
  std::string content_hash;  // see fingerprint.h
  int64_t parameters = 0;
  int64_t bytes = 0;         // size on disk
  std::string dtype;         // "bfloat16", ...
};

struct DatasetRecord {
  int64_t id = 0;
  std::string path;
  std::string kind;          // "text", "images", "tokens", ...
  std::string content_hash;  // sha256 of the content (see fingerprint.h)
  int64_t bytes = 0;
  std::optional<int64_t> samples;
};

// A dataset an experiment used, and what for: "calib" or "eval".
struct DatasetUse {
  int64_t dataset_id = 0;
  std::string role;
};

struct ExperimentSpec {
  std::string name;
  RunKind kind = RunKind::Compress;
  std::optional<int64_t> model_id;
  nlohmann::json recipe = nlohmann::json::object();
  std::vector<DatasetUse> datasets;
  std::string device;  // "cpu", "cuda:0 NVIDIA H100"
  std::optional<int64_t> parent_id;
  std::string notes;
  std::vector<std::string> tags;
};

struct Metric {
  std::string name;
  double value = 0;  // NaN allowed (stored as NULL)
  std::optional<int64_t> dataset_id;
  std::string split;    // "test", "validation", "" when not applicable
  std::string dataset;  // filled by queries: the dataset's path, "" when none
};

// One compressible layer's outcome. Errors are relative MSE (‖ŷ−y‖²/‖y‖²) and SQNR in dB.
struct LayerResult {
  std::string layer;  // Hugging Face module name
  std::string kind;   // "linear", "conv2d", ...
  nlohmann::json settings = nlohmann::json::object();
  std::optional<double> bits;
  std::optional<int64_t> params_before, params_after;
  std::optional<double> sparsity;
  std::optional<int64_t> rank;
  std::optional<double> weight_rel_mse, weight_sqnr_db;
  std::optional<double> output_rel_mse, output_sqnr_db;
};

// Calibration statistics of one observable point, with optional arrays (histograms,
// per-channel absmax, ...) stored as QSA1 blobs (array_blob.h).
struct LayerStats {
  std::string point;  // "model.layers.0.self_attn:k" or a layer name
  std::string layer;  // module it belongs to
  std::optional<int64_t> numel;  // elements observed
  std::optional<double> min, max, absmax, mean, std, p99_99, kurtosis;
  std::optional<int64_t> outliers;
  nlohmann::json extra = nlohmann::json::object();  // any further summary numbers
  std::map<std::string, StatArray> arrays;          // "hist_counts", "hist_edges", "channel_absmax", ...
  std::vector<std::string> array_names;             // filled by queries that do not load the arrays
};

struct Artifact {
  std::string path;
  std::string kind;  // "checkpoint", "recipe", "report", ...
  std::string sha256;
  int64_t bytes = 0;
  // Hashes and sizes an existing file.
  static Artifact of_file(const std::string& path, const std::string& kind);
};

struct ExperimentSummary {
  int64_t id = 0;
  std::string name;
  RunKind kind = RunKind::Compress;
  RunStatus status = RunStatus::Running;
  std::optional<int64_t> model_id;
  std::string model_path, model_architecture;
  std::string started_at, updated_at;
  std::optional<std::string> finished_at;
  std::string device;
  std::optional<int64_t> parent_id;
  std::string notes;
  std::vector<std::string> tags;
  std::string error;
};

// Seconds from start to finish, or to the last heartbeat while running; nullopt when a time is unreadable.
std::optional<double> run_seconds(const ExperimentSummary& e);
// Milliseconds since the epoch of a store timestamp ("2026-11-22T19:47:34.123Z"); nullopt if malformed.
std::optional<int64_t> parse_store_time(const std::string& iso);

struct ExperimentDataset {
  DatasetRecord dataset;
  std::string role;
};

struct ExperimentDetail {
  ExperimentSummary summary;
  std::optional<ModelRecord> model;
  nlohmann::json recipe = nlohmann::json::object();
  std::vector<ExperimentDataset> datasets;
  std::string quench_version, torch_version;
  std::vector<Metric> metrics;
  std::vector<LayerResult> layers;
  std::vector<LayerStats> stats;  // arrays loaded only when asked for
  std::vector<Artifact> artifacts;
};

struct ListFilter {
  std::optional<int64_t> model_id;
  std::string model;   // substring of the model path or architecture
  std::optional<RunKind> kind;  // nullopt = any
  std::optional<RunStatus> status;
  std::string tag;     // exact
  std::string since;   // started_at >= since (ISO date or time prefix)
  std::string until;   // started_at < until
  std::string text;    // substring of name or notes
  enum class Order { Newest, Oldest, Name, Kind, Status, Model } order = Order::Newest;
  int64_t limit = 0;   // 0: no limit
};

// One experiment's pair of metrics, for plotting size against quality.
struct MetricPoint {
  int64_t experiment_id = 0;
  std::string name;
  RunKind kind = RunKind::Compress;
  double x = 0, y = 0;
  std::string y_dataset, y_split;
};

}  // namespace quench
