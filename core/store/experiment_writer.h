#pragma once
// Records one run. Created by Store::begin, which inserts the experiment as `running` with this
// process as its owner. Every add_* is its own short transaction, so a crash keeps everything
// recorded so far and nothing half-written. Destroyed without finish(): the run is marked
// `failed` (or the status set with on_abandon), so a live process never leaves a run `running`.
//
//   auto w = store.begin(spec);
//   try { ... w.add_metric(...); ... w.finish(); }
//   catch (...) { w.finish_with(std::current_exception()); throw; }
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "core/store/records.h"
#include "core/store/sqlite.h"

namespace quench {

class ExperimentWriter {
 public:
  ExperimentWriter(sqlite::Db db, int64_t id);
  ~ExperimentWriter();
  ExperimentWriter(ExperimentWriter&& o) noexcept;
  ExperimentWriter& operator=(ExperimentWriter&&) = delete;
  ExperimentWriter(const ExperimentWriter&) = delete;
  ExperimentWriter& operator=(const ExperimentWriter&) = delete;

  int64_t id() const { return id_; }
  bool finished() const { return finished_; }

  // Same (name, dataset, split) again replaces the value.
  void add_metric(const Metric& m);
  void add_metric(const std::string& name, double value, std::optional<int64_t> dataset_id = std::nullopt,
                  const std::string& split = "");
  // Same layer again replaces its row. The vector form is one transaction.
  void add_layer_result(const LayerResult& r);
  void add_layer_results(const std::vector<LayerResult>& rs);
  // Same point again replaces its summary and arrays.
  void add_layer_stats(const LayerStats& s);
  void add_artifact(const Artifact& a);
  void add_dataset(const DatasetUse& d);
  // Records that the run is alive without adding anything: long steps call it now and then so an
  // interrupted run's end time (its last heartbeat) is close to when it really stopped.
  void heartbeat();

  // Ends the run: completed, failed (error says why) or cancelled. Only once.
  void finish(RunStatus status = RunStatus::Completed, const std::string& error = "");
  // failed with the exception's message, or cancelled for quench::Cancelled.
  void finish_with(std::exception_ptr e);
  // What the destructor records when finish() was never called (Failed or Cancelled).
  void on_abandon(RunStatus status);

 private:
  // Refreshes the heartbeat; throws if the run is no longer `running` (finished, or deleted).
  void touch();
  void insert_layer_result(const LayerResult& r);

  sqlite::Db db_;
  int64_t id_;
  bool finished_ = false;
  RunStatus abandon_ = RunStatus::Failed;
  int uncaught_at_start_;
};

}  // namespace quench
