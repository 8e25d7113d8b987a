#include "core/store/schema.h"

namespace quench {

namespace {

// Version 1: the first schema. One dataset per experiment, tags as comma-separated text, no
// calibration statistics.
const char* kV1 = R"sql(
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  architecture TEXT NOT NULL,
  content_hash TEXT NOT NULL UNIQUE,
  parameters INTEGER NOT NULL,
  bytes INTEGER NOT NULL DEFAULT 0,
  dtype TEXT NOT NULL DEFAULT '',
  added_at TEXT NOT NULL
);
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  content_hash TEXT NOT NULL UNIQUE,
  bytes INTEGER NOT NULL DEFAULT 0,
  samples INTEGER,
  added_at TEXT NOT NULL
);
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  model_id INTEGER REFERENCES models(id),
  dataset_id INTEGER REFERENCES datasets(id),
  recipe TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
  error TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  device TEXT NOT NULL DEFAULT '',
  quench_version TEXT NOT NULL DEFAULT '',
  torch_version TEXT NOT NULL DEFAULT '',
  parent_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
  notes TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  owner_host TEXT,
  owner_boot TEXT,
  owner_pid INTEGER,
  owner_start INTEGER
);
CREATE INDEX experiments_by_start ON experiments(started_at);
CREATE TABLE metrics (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  split TEXT NOT NULL DEFAULT ''
);
CREATE INDEX metrics_by_experiment ON metrics(experiment_id);
CREATE TABLE layer_results (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  layer TEXT NOT NULL,
  kind TEXT NOT NULL DEFAULT '',
  settings TEXT NOT NULL DEFAULT '{}',
  bits REAL,
  params_before INTEGER,
  params_after INTEGER,
  sparsity REAL,
  rank INTEGER,
  weight_rel_mse REAL,
  weight_sqnr_db REAL,
  output_rel_mse REAL,
  output_sqnr_db REAL,
  UNIQUE (experiment_id, layer)
);
CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  added_at TEXT NOT NULL
);
CREATE INDEX artifacts_by_experiment ON artifacts(experiment_id);
)sql";

// Version 2: several datasets per experiment with a role, tags as rows, a per-metric dataset,
// calibration statistics with array blobs, and a heartbeat (updated_at) so an interrupted run
// gets its last sign of life as its end time. Data of version 1 is carried over:
//  - experiments.dataset_id → experiment_datasets, role 'calib' for calibrate/compress/sensitivity
//    runs, 'eval' otherwise; an evaluate run's metrics get that dataset;
//  - experiments.tags "a, b" → experiment_tags rows;
//  - updated_at = finished_at, or started_at for unfinished runs.
const char* kV2 = R"sql(
CREATE TABLE experiments_v2 (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  model_id INTEGER REFERENCES models(id),
  recipe TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
  error TEXT,
  started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  finished_at TEXT,
  device TEXT NOT NULL DEFAULT '',
  quench_version TEXT NOT NULL DEFAULT '',
  torch_version TEXT NOT NULL DEFAULT '',
  parent_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
  notes TEXT NOT NULL DEFAULT '',
  owner_host TEXT,
  owner_boot TEXT,
  owner_pid INTEGER,
  owner_start INTEGER
);
INSERT INTO experiments_v2 (id, name, kind, model_id, recipe, status, error, started_at, updated_at, finished_at,
                            device, quench_version, torch_version, parent_id, notes,
                            owner_host, owner_boot, owner_pid, owner_start)
  SELECT id, name, kind, model_id, recipe, status, error, started_at, COALESCE(finished_at, started_at), finished_at,
         device, quench_version, torch_version, parent_id, notes, owner_host, owner_boot, owner_pid, owner_start
  FROM experiments;

CREATE TABLE experiment_datasets (
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id),
  role TEXT NOT NULL,
  PRIMARY KEY (experiment_id, dataset_id, role)
) WITHOUT ROWID;
INSERT INTO experiment_datasets (experiment_id, dataset_id, role)
  SELECT id, dataset_id, CASE WHEN kind IN ('calibrate', 'compress', 'sensitivity') THEN 'calib' ELSE 'eval' END
  FROM experiments WHERE dataset_id IS NOT NULL;

CREATE TABLE experiment_tags (
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  tag TEXT NOT NULL,
  PRIMARY KEY (experiment_id, tag)
) WITHOUT ROWID;
WITH RECURSIVE split(id, tag, rest) AS (
  SELECT id, '', tags || ',' FROM experiments WHERE tags <> ''
  UNION ALL
  SELECT id, trim(substr(rest, 1, instr(rest, ',') - 1)), substr(rest, instr(rest, ',') + 1) FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO experiment_tags (experiment_id, tag) SELECT id, tag FROM split WHERE tag <> '';

ALTER TABLE metrics ADD COLUMN dataset_id INTEGER REFERENCES datasets(id);
UPDATE metrics SET dataset_id =
  (SELECT e.dataset_id FROM experiments e WHERE e.id = metrics.experiment_id AND e.kind = 'evaluate');

DROP TABLE experiments;
ALTER TABLE experiments_v2 RENAME TO experiments;
CREATE INDEX experiments_by_start ON experiments(started_at);
CREATE INDEX experiments_by_model ON experiments(model_id);
CREATE INDEX experiments_by_status ON experiments(status);
CREATE INDEX experiment_tags_by_tag ON experiment_tags(tag);
CREATE INDEX experiment_datasets_by_dataset ON experiment_datasets(dataset_id);

CREATE TABLE layer_stats (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  point TEXT NOT NULL,
  layer TEXT NOT NULL DEFAULT '',
  numel INTEGER,
  min_value REAL,
  max_value REAL,
  absmax REAL,
  mean REAL,
  std REAL,
  p99_99 REAL,
  kurtosis REAL,
  outliers INTEGER,
  extra TEXT NOT NULL DEFAULT '{}',
  UNIQUE (experiment_id, point)
);
CREATE TABLE stat_arrays (
  id INTEGER PRIMARY KEY,
  stats_id INTEGER NOT NULL REFERENCES layer_stats(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (stats_id, name)
);
)sql";

// Version 3: a globally unique id per experiment, so that runs recorded in another database (a
// sweep task's, a colleague's) can be imported into this one, and imported again without
// duplicates. Existing runs get random ids once, here.
const char* kV3 = R"sql(
ALTER TABLE experiments ADD COLUMN uid TEXT;
UPDATE experiments SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX experiments_by_uid ON experiments(uid);
)sql";

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "first schema", kV1, false},
      {2, "datasets with roles, tag rows, per-metric dataset, calibration statistics, heartbeat", kV2, true},
      {3, "a unique id per experiment, for importing runs from other databases", kV3, false},
  };
  return all;
}

int schema_version_known() { return migrations().back().version; }

namespace {
// PRAGMA foreign_keys is ignored inside a transaction, so table rebuilds switch it around theirs.
class ForeignKeysOff {
 public:
  ForeignKeysOff(sqlite::Db& db, bool active) : db_(db), active_(active) {
    if (active_) db_.exec("PRAGMA foreign_keys = OFF");
  }
  ~ForeignKeysOff() {
    if (active_) sqlite3_exec(db_.get(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
  }
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  sqlite::Db& db_;
  bool active_;
};
}  // namespace

void migrate(sqlite::Db& db, int target) {
  if (target == 0) target = schema_version_known();
  QUENCH_CHECK(target >= 1 && target <= schema_version_known(), "migrate: unknown target version ", target);
  for (const auto& m : migrations()) {
    if (m.version > target) break;
    if (db.query_int("PRAGMA user_version") >= m.version) continue;
    ForeignKeysOff fk(db, m.rebuilds_tables);
    sqlite::Transaction tx(db);
    const int64_t at = db.query_int("PRAGMA user_version");
    if (at >= m.version) continue;  // another process migrated while we waited for the lock
    QUENCH_CHECK(at == m.version - 1, db.path(), ": schema version ", at, " cannot be migrated to ", m.version);
    db.exec(m.sql, ("migrating to schema version " + std::to_string(m.version)).c_str());
    if (m.rebuilds_tables) {
      auto check = db.prepare("PRAGMA foreign_key_check");
      QUENCH_CHECK(!check.step(), db.path(), ": migration to schema version ", m.version, " broke a reference in table '",
                   check.col_text(0), "'; nothing was changed");
    }
    db.exec("PRAGMA application_id = " + std::to_string(kQuenchApplicationId));
    db.exec("PRAGMA user_version = " + std::to_string(m.version));
    tx.commit();
  }
}

}  // namespace quench
