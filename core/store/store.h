#pragma once
// The experiment store: every calibration, compression and evaluation run, in one SQLite file that
// survives crashes and is shared by the GUI and the CLI. The only place with SQL is core/store/.
//
// Threads and processes: a Store is one connection; use it from one thread at a time. Each
// ExperimentWriter opens its own connection, so a run can be recorded on a worker thread (or in
// another process) while a Store lists experiments. Writes are short IMMEDIATE transactions in WAL
// mode; a writer that waits longer than the busy timeout gets a BusyError ("database is busy").
//
// Crash safety: see docs/store.md. Opening marks `running` runs whose process is gone as
// `interrupted`; runs of live processes are left alone.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/store/compare.h"
#include "core/store/experiment_writer.h"
#include "core/store/records.h"
#include "core/store/sqlite.h"

namespace quench {

struct StoreOptions {
  int busy_timeout_ms = 5000;
};

class Store {
 public:
  // Opens (creating file and parent directories when missing) and migrates to the current schema.
  // Throws, leaving the file untouched, for a file that is not a Quench database or has a newer schema.
  static Store open(const std::string& path, const StoreOptions& opts = {});
  // Opens an existing database for queries only (list, show, compare, export): no migration, no
  // marking of interrupted runs, nothing written — so it works on a read-only file in a read-only
  // folder, or on a full disk. Recording through it fails.
  static Store open_read_only(const std::string& path, const StoreOptions& opts = {});
  // $XDG_DATA_HOME/quench/quench.db, else ~/.local/share/quench/quench.db.
  static std::string default_path();

  const std::string& path() const { return db_.path(); }
  int schema_version() const;
  // "ok", or the problems: SQLite's integrity_check, then dangling foreign keys.
  std::string integrity_check() const;
  // Changes whenever another connection (a writer, another program) commits: the GUI polls this
  // cheaply and re-reads its list only when it moved.
  int64_t data_version() const { return db_.query_int("PRAGMA data_version"); }
  // Runs found `running` with a dead owner and marked `interrupted` when this Store was opened.
  const std::vector<int64_t>& interrupted_on_open() const { return interrupted_; }

  // --- models and datasets (deduplicated by content hash; the path is updated to the latest) ---
  int64_t add_model(const ModelRecord& m);
  int64_t add_dataset(const DatasetRecord& d);
  std::vector<ModelRecord> models() const;
  ModelRecord model(int64_t id) const;
  DatasetRecord dataset(int64_t id) const;

  // --- recording ---
  ExperimentWriter begin(const ExperimentSpec& spec);

  // --- queries ---
  std::vector<ExperimentSummary> list(const ListFilter& filter = {}) const;
  ExperimentDetail get(int64_t id, bool with_arrays = false) const;
  std::map<std::string, StatArray> stat_arrays(int64_t experiment_id, const std::string& point) const;
  Comparison compare(const std::vector<int64_t>& ids) const;
  // Completed runs of a model that recorded both metrics (e.g. size_bytes vs. perplexity).
  std::vector<MetricPoint> metric_points(int64_t model_id, const std::string& x_metric, const std::string& y_metric) const;

  // --- edits (each one transaction; an unknown id throws naming it) ---
  // Removes the experiment and its metrics, layers, statistics and artifacts (not the model or
  // dataset rows, nor artifact files). A run whose process is still recording is refused.
  void remove(int64_t id);
  void rename(int64_t id, const std::string& name);
  void set_notes(int64_t id, const std::string& notes);
  // The times a finished run spans, for one put together from others (a sensitivity analysis
  // merged from chunks: their first start and last end), so its duration is the work's.
  void set_span(int64_t id, const std::string& started_at, const std::string& finished_at);
  void set_tags(int64_t id, const std::vector<std::string>& tags);

  // --- export ---
  nlohmann::json export_json(int64_t id) const;  // everything, arrays included
  std::string export_csv(int64_t id) const;      // one row per value; see docs/store.md

 private:
  Store(sqlite::Db db, StoreOptions opts) : db_(std::move(db)), opts_(opts) {}
  void mark_interrupted();
  void require_experiment(int64_t id) const;
  // get() without its read transaction, for callers that hold one.
  ExperimentDetail detail_in_transaction(int64_t id, bool with_arrays) const;

  // mutable: reads open read transactions on the connection; that is not the store's logical state.
  mutable sqlite::Db db_;
  StoreOptions opts_;
  std::vector<int64_t> interrupted_;
};

}  // namespace quench
