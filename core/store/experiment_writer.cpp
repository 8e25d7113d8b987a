#include "core/store/experiment_writer.h"

#include <cmath>

#include <utility>

#include "core/store/connection.h"

namespace quench {

ExperimentWriter::ExperimentWriter(sqlite::Db db, int64_t id)
    : db_(std::move(db)), id_(id), uncaught_at_start_(std::uncaught_exceptions()) {}

ExperimentWriter::ExperimentWriter(ExperimentWriter&& o) noexcept
    : db_(std::move(o.db_)),
      id_(o.id_),
      finished_(std::exchange(o.finished_, true)),
      abandon_(o.abandon_),
      uncaught_at_start_(o.uncaught_at_start_) {}

ExperimentWriter::~ExperimentWriter() {
  if (finished_) return;
  const bool unwinding = std::uncaught_exceptions() > uncaught_at_start_;
  try {
    finish(abandon_, abandon_ == RunStatus::Cancelled ? ""
                     : unwinding ? "an exception ended the run before it was finished"
                                 : "the code recording this run stopped without finishing it");
  } catch (...) {
    // Destructors must not throw. The row stays `running` with this process as owner; the next
    // open after this process exits marks it `interrupted`.
  }
}

void ExperimentWriter::on_abandon(RunStatus status) {
  QUENCH_CHECK(status == RunStatus::Failed || status == RunStatus::Cancelled,
               "an abandoned run can only be marked failed or cancelled, not ", status_name(status));
  abandon_ = status;
}

void ExperimentWriter::touch() {
  QUENCH_CHECK(!finished_, db_.path(), ": experiment ", id_, " is already finished; nothing more can be recorded");
  auto s = db_.prepare("UPDATE experiments SET updated_at = ?1 WHERE id = ?2 AND status = 'running'");
  s.bind(1, now_utc()).bind(2, id_).run();
  if (db_.changes() == 1) return;
  auto q = db_.prepare("SELECT status FROM experiments WHERE id = ?1");
  q.bind(1, id_);
  if (!q.step()) fail(db_.path(), ": experiment ", id_, " was deleted while it was being recorded");
  fail(db_.path(), ": experiment ", id_, " is no longer running (status '", q.col_text(0), "'); nothing more can be recorded");
}

void ExperimentWriter::add_metric(const Metric& m) {
  QUENCH_CHECK(!m.name.empty(), db_.path(), ": experiment ", id_, ": a metric needs a name");
  // A NaN perplexity is a failure, not a result: refusing it here marks the run failed with this
  // message (the caller's finish_with), for every command and the window alike.
  QUENCH_CHECK(std::isfinite(m.value), "the run produced a non-finite ", m.name, " (", m.value,
               "): the model's activations overflowed or became NaN in ", "this dtype; not recorded as a result "
               "(try --dtype float32)");
  sqlite::Transaction tx(db_);
  touch();
  db_.prepare("DELETE FROM metrics WHERE experiment_id = ?1 AND name = ?2 AND dataset_id IS ?3 AND split = ?4")
      .bind(1, id_)
      .bind(2, m.name)
      .bind(3, m.dataset_id)
      .bind(4, m.split)
      .run();
  db_.prepare("INSERT INTO metrics (experiment_id, name, value, dataset_id, split) VALUES (?1, ?2, ?3, ?4, ?5)")
      .bind(1, id_)
      .bind(2, m.name)
      .bind(3, m.value)
      .bind(4, m.dataset_id)
      .bind(5, m.split)
      .run();
  tx.commit();
}

void ExperimentWriter::add_metric(const std::string& name, double value, std::optional<int64_t> dataset_id,
                                  const std::string& split) {
  Metric m;
  m.name = name, m.value = value, m.dataset_id = dataset_id, m.split = split;
  add_metric(m);
}

void ExperimentWriter::insert_layer_result(const LayerResult& r) {
  QUENCH_CHECK(!r.layer.empty(), db_.path(), ": experiment ", id_, ": a layer result needs the layer's name");
  db_.prepare(
         "INSERT INTO layer_results (experiment_id, layer, kind, settings, bits, params_before, params_after, sparsity, "
         "rank, weight_rel_mse, weight_sqnr_db, output_rel_mse, output_sqnr_db) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
         "ON CONFLICT (experiment_id, layer) DO UPDATE SET kind = excluded.kind, settings = excluded.settings, "
         "bits = excluded.bits, params_before = excluded.params_before, params_after = excluded.params_after, "
         "sparsity = excluded.sparsity, rank = excluded.rank, weight_rel_mse = excluded.weight_rel_mse, "
         "weight_sqnr_db = excluded.weight_sqnr_db, output_rel_mse = excluded.output_rel_mse, "
         "output_sqnr_db = excluded.output_sqnr_db")
      .bind(1, id_)
      .bind(2, r.layer)
      .bind(3, r.kind)
      .bind(4, r.settings.dump())
      .bind(5, r.bits)
      .bind(6, r.params_before)
      .bind(7, r.params_after)
      .bind(8, r.sparsity)
      .bind(9, r.rank)
      .bind(10, r.weight_rel_mse)
      .bind(11, r.weight_sqnr_db)
      .bind(12, r.output_rel_mse)
      .bind(13, r.output_sqnr_db)
      .run();
}

void ExperimentWriter::add_layer_result(const LayerResult& r) { add_layer_results({r}); }

void ExperimentWriter::add_layer_results(const std::vector<LayerResult>& rs) {
  sqlite::Transaction tx(db_);
  touch();
  for (const auto& r : rs) insert_layer_result(r);
  tx.commit();
}

void ExperimentWriter::add_layer_stats(const LayerStats& st) {
  QUENCH_CHECK(!st.point.empty(), db_.path(), ": experiment ", id_, ": layer statistics need the point's name");
  // Encode first: a bad array fails before anything is written.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> blobs;
  for (const auto& [name, a] : st.arrays) {
    QUENCH_CHECK(!name.empty(), db_.path(), ": experiment ", id_, ", point ", st.point, ": an array needs a name");
    blobs.emplace_back(name, encode_array(a));
  }
  sqlite::Transaction tx(db_);
  touch();
  // Replacing a point removes its old arrays too (ON DELETE CASCADE).
  db_.prepare("DELETE FROM layer_stats WHERE experiment_id = ?1 AND point = ?2").bind(1, id_).bind(2, st.point).run();
  db_.prepare(
         "INSERT INTO layer_stats (experiment_id, point, layer, numel, min_value, max_value, absmax, mean, std, p99_99, "
         "kurtosis, outliers, extra) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")
      .bind(1, id_)
      .bind(2, st.point)
      .bind(3, st.layer)
      .bind(4, st.numel)
      .bind(5, st.min)
      .bind(6, st.max)
      .bind(7, st.absmax)
      .bind(8, st.mean)
      .bind(9, st.std)
      .bind(10, st.p99_99)
      .bind(11, st.kurtosis)
      .bind(12, st.outliers)
      .bind(13, st.extra.dump())
      .run();
  const int64_t stats_id = db_.last_insert_id();
  auto ins = db_.prepare("INSERT INTO stat_arrays (stats_id, name, data) VALUES (?1, ?2, ?3)");
  for (const auto& [name, blob] : blobs) {
    ins.bind(1, stats_id).bind(2, name).bind(3, blob).run();
    ins.reset();
  }
  tx.commit();
}

void ExperimentWriter::add_artifact(const Artifact& a) {
  QUENCH_CHECK(!a.path.empty(), db_.path(), ": experiment ", id_, ": an artifact needs a path");
  sqlite::Transaction tx(db_);
  touch();
  db_.prepare("INSERT INTO artifacts (experiment_id, path, kind, sha256, bytes, added_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
      .bind(1, id_)
      .bind(2, a.path)
      .bind(3, a.kind)
      .bind(4, a.sha256)
      .bind(5, a.bytes)
      .bind(6, now_utc())
      .run();
  tx.commit();
}

void ExperimentWriter::add_dataset(const DatasetUse& d) {
  QUENCH_CHECK(!d.role.empty(), db_.path(), ": experiment ", id_, ": dataset ", d.dataset_id, " needs a role (calib, eval)");
  sqlite::Transaction tx(db_);
  touch();
  db_.prepare("INSERT OR IGNORE INTO experiment_datasets (experiment_id, dataset_id, role) VALUES (?1, ?2, ?3)")
      .bind(1, id_)
      .bind(2, d.dataset_id)
      .bind(3, d.role)
      .run();
  tx.commit();
}

void ExperimentWriter::heartbeat() {
  sqlite::Transaction tx(db_);
  touch();
  tx.commit();
}

void ExperimentWriter::finish(RunStatus status, const std::string& error) {
  QUENCH_CHECK(status == RunStatus::Completed || status == RunStatus::Failed || status == RunStatus::Cancelled,
               "a run finishes as completed, failed or cancelled, not ", status_name(status));
  sqlite::Transaction tx(db_);
  touch();
  const std::string now = now_utc();
  db_.prepare("UPDATE experiments SET status = ?1, error = ?2, finished_at = ?3, updated_at = ?3 WHERE id = ?4")
      .bind(1, status_name(status))
      .bind(2, error.empty() ? std::optional<std::string>() : std::optional<std::string>(error))
      .bind(3, now)
      .bind(4, id_)
      .run();
  tx.commit();
  finished_ = true;
}

void ExperimentWriter::finish_with(std::exception_ptr e) {
  RunStatus status = RunStatus::Failed;
  std::string message = "unknown error";
  try {
    if (e) std::rethrow_exception(e);
  } catch (const Cancelled&) {
    status = RunStatus::Cancelled, message.clear();
  } catch (const std::exception& ex) {
    message = ex.what();
  } catch (...) {
  }
  finish(status, message);
}

}  // namespace quench
