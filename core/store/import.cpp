#include "core/store/import.h"

#include <filesystem>
#include <map>
#include <set>

#include "core/store/connection.h"
#include "core/store/store.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace quench {

namespace {

std::vector<std::string> columns(sqlite::Db& db, const std::string& table) {
  std::vector<std::string> out;
  auto s = db.prepare("PRAGMA main.table_info(" + table + ")");
  while (s.step()) out.push_back(s.col_text(1));
  QUENCH_CHECK(!out.empty(), db.path(), ": no table '", table, "'");
  return out;
}

// INSERT INTO main.TABLE (every column but id) SELECT … FROM FROM_CLAUSE, where the source row is
// `t` and `overrides` gives the expression of each column that must be remapped. Built from the
// destination's columns, so a column added by a later migration is copied without a change here
// (both files have the same schema version by the time this runs).
void copy_rows(sqlite::Db& db, const std::string& table, const std::string& from_clause,
               const std::map<std::string, std::string>& overrides) {
  std::string cols, exprs;
  for (const auto& c : columns(db, table)) {
    if (c == "id") continue;
    cols += (cols.empty() ? "" : ", ") + c;
    const auto o = overrides.find(c);
    exprs += (exprs.empty() ? "" : ", ") + (o != overrides.end() ? o->second : "t." + c);
  }
  db.exec("INSERT INTO main." + table + " (" + cols + ") SELECT " + exprs + " FROM " + from_clause,
          ("importing table " + table).c_str());
}

// Models and datasets are content-addressed: a source row whose hash is here maps to that row,
// others are added. map_TABLE(src, dst) holds the mapping for the rest of the transaction.
void map_by_hash(sqlite::Db& db, const std::string& table) {
  const std::string map = "temp.map_" + table;
  db.exec("CREATE TEMP TABLE map_" + table + " (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL)");
  copy_rows(db, table, "src." + table + " t WHERE t.content_hash NOT IN (SELECT content_hash FROM main." + table + ")", {});
  db.exec("INSERT INTO " + map + " SELECT s.id, d.id FROM src." + table + " s JOIN main." + table +
          " d ON d.content_hash = s.content_hash");
}

void check_source(const std::string& dest, const std::string& source) {
  QUENCH_CHECK(!source.empty(), "no database to import given");
  std::error_code ec;
  QUENCH_CHECK(fs::exists(source, ec), source, ": no such database to import");
  if (fs::exists(dest, ec) && fs::equivalent(dest, source, ec))
    fail(source, ": is the destination database itself; nothing to import");
  // Refuses other files, other programs' databases, newer and older schemas, with the file named.
  const Store src = Store::open_read_only(source);
  const std::string problems = src.integrity_check();
  QUENCH_CHECK(problems == "ok", source, ": damaged, not imported (nothing was changed): ", problems);
}

}  // namespace

ImportReport import_experiments(const std::string& dest, const std::string& source) {
  check_source(dest, source);
  { Store created = Store::open(dest); }  // creates or migrates it, refusing what is not ours
  // URI names on, so that the source is attached read-only: a process recording into it is not
  // blocked by this transaction, and a source in a read-only folder can be read.
  sqlite::Db db = open_connection(dest, StoreOptions{}.busy_timeout_ms, /*uri=*/true);
  // Detached on every path: a connection with the file attached must not outlive this call.
  struct Detach {
    sqlite::Db& db;
    bool attached = false;
    ~Detach() {
      if (attached) sqlite3_exec(db.get(), "DETACH DATABASE src", nullptr, nullptr, nullptr);
    }
  } detach{db};
  auto attach = [&](const char* mode) {
    db.prepare("ATTACH DATABASE ?1 AS src").bind(1, sqlite::Db::file_uri(fs::absolute(source).string(), mode)).run();
    detach.attached = true;
    (void)db.query_int("SELECT count(*) FROM src.sqlite_schema");  // opens it (and its WAL) now
  };
  try {
    attach("mode=ro");
  } catch (const BusyError&) {
    throw;
  } catch (const Error&) {
    // A WAL file whose -shm cannot be made (a read-only folder): read as immutable, as open_reader does.
    if (detach.attached) db.exec("DETACH DATABASE src");
    detach.attached = false;
    attach("immutable=1");
  }
  // A run kind this build does not know would make the destination unreadable here: refused first.
  {
    auto s = db.prepare("SELECT id, kind FROM src.experiments WHERE status <> 'running' ORDER BY id");
    while (s.step()) {
      try {
        (void)parse_run_kind(s.col_text(1));
      } catch (const UsageError& e) {
        fail(source, ": experiment #", s.col_int(0), ": ", e.what(), "; not imported (nothing was changed)");
      }
    }
  }

  ImportReport report;
  {
    sqlite::Transaction tx(db);
    map_by_hash(db, "models");
    map_by_hash(db, "datasets");

    db.exec("CREATE TEMP TABLE map_exp (src INTEGER PRIMARY KEY, dst INTEGER NOT NULL, fresh INTEGER NOT NULL)");
    // Runs still `running` in the source are either recording now or were killed; neither is a
    // result, and importing one would freeze it in a state it will leave.
    db.exec("INSERT INTO temp.map_exp SELECT s.id, d.id, 0 FROM src.experiments s JOIN main.experiments d ON d.uid = s.uid "
            "WHERE s.status <> 'running'");
    copy_rows(db, "experiments",
              "src.experiments t LEFT JOIN temp.map_models mm ON mm.src = t.model_id "
              "WHERE t.status <> 'running' AND t.uid NOT IN (SELECT uid FROM main.experiments) ORDER BY t.id",
              {{"model_id", "mm.dst"}, {"parent_id", "NULL"}});
    db.exec("INSERT INTO temp.map_exp SELECT s.id, d.id, 1 FROM src.experiments s JOIN main.experiments d ON d.uid = s.uid "
            "WHERE s.status <> 'running' AND s.id NOT IN (SELECT src FROM temp.map_exp)");
    // A parent that was not imported (still running) leaves the link empty, as deleting it would.
    db.exec("UPDATE main.experiments SET parent_id = (SELECT mp.dst FROM temp.map_exp me JOIN src.experiments s ON s.id = me.src "
            "JOIN temp.map_exp mp ON mp.src = s.parent_id WHERE me.dst = main.experiments.id) "
            "WHERE id IN (SELECT dst FROM temp.map_exp WHERE fresh)");

    const std::string fresh = " JOIN temp.map_exp me ON me.src = t.experiment_id AND me.fresh";
    copy_rows(db, "experiment_datasets", "src.experiment_datasets t" + fresh + " JOIN temp.map_datasets md ON md.src = t.dataset_id",
              {{"experiment_id", "me.dst"}, {"dataset_id", "md.dst"}});
    copy_rows(db, "experiment_tags", "src.experiment_tags t" + fresh, {{"experiment_id", "me.dst"}});
    copy_rows(db, "metrics", "src.metrics t" + fresh + " LEFT JOIN temp.map_datasets md ON md.src = t.dataset_id ORDER BY t.id",
              {{"experiment_id", "me.dst"}, {"dataset_id", "md.dst"}});
    copy_rows(db, "layer_results", "src.layer_results t" + fresh + " ORDER BY t.id", {{"experiment_id", "me.dst"}});
    copy_rows(db, "layer_stats", "src.layer_stats t" + fresh + " ORDER BY t.id", {{"experiment_id", "me.dst"}});
    // A statistics row is unique per (experiment, point), which finds its new id.
    copy_rows(db, "stat_arrays",
              "src.stat_arrays t JOIN src.layer_stats ls ON ls.id = t.stats_id "
              "JOIN temp.map_exp me ON me.src = ls.experiment_id AND me.fresh "
              "JOIN main.layer_stats nl ON nl.experiment_id = me.dst AND nl.point = ls.point ORDER BY t.id",
              {{"stats_id", "nl.id"}});
    copy_rows(db, "artifacts", "src.artifacts t" + fresh + " ORDER BY t.id", {{"experiment_id", "me.dst"}});

    auto check = db.prepare("PRAGMA main.foreign_key_check");
    QUENCH_CHECK(!check.step(), dest, ": importing ", source, " would leave a dangling reference in table '", check.col_text(0),
                 "'; nothing was imported");
    auto rows = db.prepare("SELECT src, dst, fresh FROM temp.map_exp ORDER BY src");
    while (rows.step()) (rows.col_int(2) ? report.imported : report.present).emplace_back(rows.col_int(0), rows.col_int(1));
    auto running = db.prepare("SELECT id FROM src.experiments WHERE status = 'running' ORDER BY id");
    while (running.step()) report.skipped_running.push_back(running.col_int(0));
    for (const char* t : {"map_models", "map_datasets", "map_exp"}) db.exec(std::string("DROP TABLE temp.") + t);
    tx.commit();
  }
  return report;
}

}  // namespace quench
