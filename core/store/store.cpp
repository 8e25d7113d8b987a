#include "core/store/store.h"

#include <torch/version.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/store/connection.h"
#include "core/store/process.h"
#include "core/store/schema.h"

namespace fs = std::filesystem;

namespace quench {

namespace {
// Tags are shown in lists and joined with a control character in queries: keep them printable.
void check_tag(const std::string& path, const std::string& tag) {
  QUENCH_CHECK(!tag.empty(), path, ": empty tag");
  for (unsigned char c : tag) QUENCH_CHECK(c >= 0x20 && c != 0x7f, path, ": tag '", tag, "' contains a control character");
}

// Inserts a content-addressed row, or points the existing one with that hash at the new path; returns its id.
template <typename Bind>
int64_t upsert_by_hash(sqlite::Db& db, const std::string& table, const std::string& hash, const std::string& insert_sql,
                       Bind bind) {
  sqlite::Transaction tx(db);
  auto ins = db.prepare(insert_sql + " ON CONFLICT (content_hash) DO UPDATE SET path = excluded.path");
  bind(ins);
  ins.run();
  auto q = db.prepare("SELECT id FROM " + table + " WHERE content_hash = ?1");
  q.bind(1, hash);
  QUENCH_CHECK(q.step(), db.path(), ": the ", table, " row with content hash ", hash, " was not stored");
  const int64_t id = q.col_int(0);
  tx.commit();
  return id;
}

void create_parent_dirs(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  QUENCH_CHECK(!ec, parent.string(), ": cannot create the database's directory (", ec.message(), ")");
}
}  // namespace

Store Store::open(const std::string& path, const StoreOptions& opts) {
  QUENCH_CHECK(!path.empty(), "no database path given");
  const FileState state = inspect_database_file(path);
  if (state == FileState::Missing) create_parent_dirs(path);
  // SQLite would open a read-only file and fail at the first write, deep inside a run.
  const std::string folder = fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : ".";
  if (state != FileState::Missing && (::access(path.c_str(), W_OK) != 0 || ::access(folder.c_str(), W_OK) != 0))
    fail(path, ": the database ", ::access(path.c_str(), W_OK) != 0 ? "file" : "folder",
         " is read-only, so no run can be recorded in it (listing, showing, comparing and exporting runs "
         "still work); give a writable --db");
  Store s(open_connection(path, opts.busy_timeout_ms), opts);
  migrate(s.db_);
  s.mark_interrupted();
  return s;
}

Store Store::open_read_only(const std::string& path, const StoreOptions& opts) {
  QUENCH_CHECK(!path.empty(), "no database path given");
  const FileState state = inspect_database_file(path);
  QUENCH_CHECK(state != FileState::Missing, path, ": no such database");
  QUENCH_CHECK(state == FileState::Quench, path, ": holds no experiments yet (an empty database)");
  sqlite::Db db = open_reader(path);
  sqlite3_busy_timeout(db.get(), opts.busy_timeout_ms);
  db.exec("PRAGMA foreign_keys = ON");
  QUENCH_CHECK(db.query_int("PRAGMA user_version") == schema_version_known(), path,
               ": written by an older Quench (schema version ", db.query_int("PRAGMA user_version"),
               "); open it once with write access to upgrade it");
  return Store(std::move(db), opts);
}

std::string Store::default_path() {
  // The XDG base directory spec says relative values are invalid and must be ignored.
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg && xdg[0] == '/') return std::string(xdg) + "/quench/quench.db";
  const char* home = std::getenv("HOME");
  QUENCH_CHECK(home && home[0], "cannot place the experiment database: neither XDG_DATA_HOME nor HOME is set (pass --db FILE)");
  return std::string(home) + "/.local/share/quench/quench.db";
}

int Store::schema_version() const { return static_cast<int>(db_.query_int("PRAGMA user_version")); }

std::string Store::integrity_check() const {
  auto s = db_.prepare("PRAGMA integrity_check");
  std::string out;
  while (s.step()) out += (out.empty() ? "" : "\n") + s.col_text(0);
  // integrity_check does not look at foreign keys; a dangling reference is damage too.
  auto fk = db_.prepare("PRAGMA foreign_key_check");
  while (fk.step()) {
    if (out == "ok") out.clear();
    out += (out.empty() ? "" : "\n") + std::string("row ") + std::to_string(fk.col_int(1)) + " of " + fk.col_text(0) +
           " refers to a missing row of " + fk.col_text(2);
  }
  return out;
}

void Store::mark_interrupted() {
  struct Orphan {
    int64_t id;
    ProcessIdentity owner;
  };
  std::vector<Orphan> orphans;
  {
    auto s = db_.prepare(
        "SELECT id, COALESCE(owner_host, ''), COALESCE(owner_boot, ''), COALESCE(owner_pid, 0), COALESCE(owner_start, 0) "
        "FROM experiments WHERE status = 'running'");
    while (s.step()) {
      ProcessIdentity p{s.col_text(1), s.col_text(2), s.col_int(3), s.col_int(4)};
      if (owner_state(p) == OwnerState::Gone) orphans.push_back({s.col_int(0), p});
    }
  }
  if (orphans.empty()) return;
  sqlite::Transaction tx(db_);
  // The run's end is its last sign of life (the heartbeat), not the moment we noticed.
  auto up = db_.prepare(
      "UPDATE experiments SET status = 'interrupted', finished_at = updated_at, error = ?2 "
      "WHERE id = ?1 AND status = 'running'");
  const std::string now = now_utc();
  for (const auto& o : orphans) {
    up.bind(1, o.id)
        .bind(2, "the process that recorded this run (pid " + std::to_string(o.owner.pid) + " on " + o.owner.host +
                     ") ended without finishing it; found at " + now)
        .run();
    if (db_.changes() == 1) interrupted_.push_back(o.id);
    up.reset();
  }
  tx.commit();
}

void Store::require_experiment(int64_t id) const {
  auto s = db_.prepare("SELECT 1 FROM experiments WHERE id = ?1");
  s.bind(1, id);
  QUENCH_CHECK(s.step(), path(), ": no experiment with id ", id);
}

int64_t Store::add_model(const ModelRecord& m) {
  QUENCH_CHECK(!m.content_hash.empty() && !m.path.empty(), path(), ": a model needs a path and a content hash");
  return upsert_by_hash(db_, "models", m.content_hash,
                        "INSERT INTO models (path, architecture, content_hash, parameters, bytes, dtype, added_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        [&](sqlite::Stmt& s) {
                          s.bind(1, m.path).bind(2, m.architecture).bind(3, m.content_hash).bind(4, m.parameters);
                          s.bind(5, m.bytes).bind(6, m.dtype).bind(7, now_utc());
                        });
}

int64_t Store::add_dataset(const DatasetRecord& d) {
  QUENCH_CHECK(!d.content_hash.empty() && !d.path.empty() && !d.kind.empty(), path(),
               ": a dataset needs a path, a kind and a content hash");
  return upsert_by_hash(db_, "datasets", d.content_hash,
                        "INSERT INTO datasets (path, kind, content_hash, bytes, samples, added_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        [&](sqlite::Stmt& s) {
                          s.bind(1, d.path).bind(2, d.kind).bind(3, d.content_hash).bind(4, d.bytes);
                          s.bind(5, d.samples).bind(6, now_utc());
                        });
}

ExperimentWriter Store::begin(const ExperimentSpec& spec) {
  QUENCH_CHECK(!spec.name.empty(), path(), ": an experiment needs a name");
  for (const auto& t : spec.tags) check_tag(path(), t);
  for (const auto& d : spec.datasets)
    QUENCH_CHECK(!d.role.empty(), path(), ": dataset ", d.dataset_id, " of experiment '", spec.name, "' needs a role");
  // A Store opened read-only must not record through a writer connection of its own.
  QUENCH_CHECK(sqlite3_db_readonly(db_.get(), "main") != 1, path(),
               ": opened read-only (for listing and comparing); a run cannot be recorded in it");
  // The writer gets its own connection so it can live on another thread than this Store.
  sqlite::Db conn = open_connection(path(), opts_.busy_timeout_ms);
  const ProcessIdentity me = current_process();
  const std::string now = now_utc();
  sqlite::Transaction tx(conn);
  auto exists = [&](const char* table, int64_t id) {
    auto s = conn.prepare(std::string("SELECT 1 FROM ") + table + " WHERE id = ?1");
    s.bind(1, id);
    return s.step();
  };
  if (spec.model_id) QUENCH_CHECK(exists("models", *spec.model_id), path(), ": no model with id ", *spec.model_id);
  if (spec.parent_id)
    QUENCH_CHECK(exists("experiments", *spec.parent_id), path(), ": no parent experiment with id ", *spec.parent_id);
  for (const auto& d : spec.datasets) QUENCH_CHECK(exists("datasets", d.dataset_id), path(), ": no dataset with id ", d.dataset_id);
  conn.prepare(
          "INSERT INTO experiments (name, kind, model_id, recipe, status, started_at, updated_at, device, quench_version, "
          "torch_version, parent_id, notes, owner_host, owner_boot, owner_pid, owner_start, uid) "
          "VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, lower(hex(randomblob(16))))")
      .bind(1, spec.name)
      .bind(2, run_kind_name(spec.kind))
      .bind(3, spec.model_id)
      .bind(4, spec.recipe.dump())
      .bind(5, now)
      .bind(6, spec.device)
      .bind(7, QUENCH_VERSION)
      .bind(8, TORCH_VERSION)
      .bind(9, spec.parent_id)
      .bind(10, spec.notes)
      .bind(11, me.host)
      .bind(12, me.boot_id)
      .bind(13, me.pid)
      .bind(14, me.start_ticks)
      .run();
  const int64_t id = conn.last_insert_id();
  auto tag = conn.prepare("INSERT OR IGNORE INTO experiment_tags (experiment_id, tag) VALUES (?1, ?2)");
  for (const auto& t : spec.tags) {
    tag.bind(1, id).bind(2, t).run();
    tag.reset();
  }
  auto ds = conn.prepare("INSERT OR IGNORE INTO experiment_datasets (experiment_id, dataset_id, role) VALUES (?1, ?2, ?3)");
  for (const auto& d : spec.datasets) {
    ds.bind(1, id).bind(2, d.dataset_id).bind(3, d.role).run();
    ds.reset();
  }
  tx.commit();
  return ExperimentWriter(std::move(conn), id);
}

void Store::remove(int64_t id) {
  sqlite::Transaction tx(db_);
  auto s = db_.prepare(
      "SELECT status, COALESCE(owner_host, ''), COALESCE(owner_boot, ''), COALESCE(owner_pid, 0), COALESCE(owner_start, 0) "
      "FROM experiments WHERE id = ?1");
  s.bind(1, id);
  QUENCH_CHECK(s.step(), path(), ": no experiment with id ", id);
  if (s.col_text(0) == "running") {
    const ProcessIdentity owner{s.col_text(1), s.col_text(2), s.col_int(3), s.col_int(4)};
    QUENCH_CHECK(owner_state(owner) == OwnerState::Gone, path(), ": experiment ", id,
                 " is still being recorded (pid ", owner.pid, " on ", owner.host, "); delete it after that run ends");
  }
  db_.prepare("DELETE FROM experiments WHERE id = ?1").bind(1, id).run();
  tx.commit();
}

void Store::rename(int64_t id, const std::string& name) {
  QUENCH_CHECK(!name.empty(), path(), ": experiment ", id, " cannot be renamed to an empty name");
  sqlite::Transaction tx(db_);
  db_.prepare("UPDATE experiments SET name = ?1 WHERE id = ?2").bind(1, name).bind(2, id).run();
  QUENCH_CHECK(db_.changes() == 1, path(), ": no experiment with id ", id);
  tx.commit();
}

void Store::set_notes(int64_t id, const std::string& notes) {
  sqlite::Transaction tx(db_);
  db_.prepare("UPDATE experiments SET notes = ?1 WHERE id = ?2").bind(1, notes).bind(2, id).run();
  QUENCH_CHECK(db_.changes() == 1, path(), ": no experiment with id ", id);
  tx.commit();
}

void Store::set_span(int64_t id, const std::string& started_at, const std::string& finished_at) {
  QUENCH_CHECK(!started_at.empty() && started_at <= finished_at, path(), ": experiment ", id, " cannot span '", started_at, "' to '",
               finished_at, "'");
  sqlite::Transaction tx(db_);
  db_.prepare("UPDATE experiments SET started_at = ?1, finished_at = ?2 WHERE id = ?3 AND status <> 'running'")
      .bind(1, started_at)
      .bind(2, finished_at)
      .bind(3, id)
      .run();
  QUENCH_CHECK(db_.changes() == 1, path(), ": no finished experiment with id ", id);
  tx.commit();
}

void Store::set_tags(int64_t id, const std::vector<std::string>& tags) {
  for (const auto& t : tags) check_tag(path(), t);
  sqlite::Transaction tx(db_);
  require_experiment(id);
  db_.prepare("DELETE FROM experiment_tags WHERE experiment_id = ?1").bind(1, id).run();
  auto ins = db_.prepare("INSERT OR IGNORE INTO experiment_tags (experiment_id, tag) VALUES (?1, ?2)");
  for (const auto& t : tags) {
    ins.bind(1, id).bind(2, t).run();
    ins.reset();
  }
  tx.commit();
}

}  // namespace quench
