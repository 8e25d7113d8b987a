// experiments import: another database's runs copied in, ids renumbered, a second import adding
// nothing, and every refused source leaving the destination as it was.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/store/import.h"
#include "core/store/store.h"
#include "core/util/error.h"
#include "test_util.h"

using namespace quench;

namespace {

// Runs SQL on a database file directly, as another program would.
void raw_sql(const std::string& path, const char* statements) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, statements, nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

struct Source {
  int64_t calib = 0, child = 0, running = 0;
  std::optional<ExperimentWriter> live;  // keeps `running` recording while the test imports
};

// A calibration run with statistics, a compress run that is its child (metrics, layers, artifact,
// tags, a dataset) and a run still recording.
Source fill_source(const std::string& db, const std::string& artifact_file) {
  Store s = Store::open(db);
  ModelRecord m;
  m.path = "/models/tiny";
  m.architecture = "LlamaForCausalLM";
  m.content_hash = "hash-tiny";
  m.parameters = 1000;
  const int64_t model = s.add_model(m);
  const int64_t text = s.add_dataset({0, "/data/sotu.txt", "text", "hash-sotu", 100, 10});
  Source out;
  {
    auto w = s.begin({"calib", RunKind::Calibrate, model});
    LayerStats st;
    st.point = "model.layers.0.self_attn:k";
    st.absmax = 3.5;
    st.arrays["channel_absmax"] = StatArray::from(std::vector<float>{1, 3.5, 2});
    w.add_layer_stats(st);
    w.finish();
    out.calib = w.id();
  }
  {
    ExperimentSpec spec{"w4", RunKind::Compress, model};
    spec.parent_id = out.calib;
    spec.datasets = {{text, "eval"}};
    spec.tags = {"sweep", "w4"};
    auto w = s.begin(spec);
    w.add_metric("perplexity", 12.5, text, "test");
    w.add_layer_results({test::linear_result("model.layers.0.mlp.up_proj", 4, 0.04), test::linear_result("model.layers.0.mlp.down_proj", 8, 0.08)});
    std::ofstream(artifact_file) << "recipe";
    w.add_artifact(Artifact::of_file(artifact_file, "recipe"));
    w.finish();
    out.child = w.id();
  }
  out.live.emplace(s.begin({"still going", RunKind::Compress, model}));
  out.running = out.live->id();
  return out;
}

// A destination with runs of its own, so source ids collide with taken ones.
void fill_dest(const std::string& db) {
  Store s = Store::open(db);
  ModelRecord m;
  m.path = "/elsewhere/tiny";
  m.architecture = "LlamaForCausalLM";
  m.content_hash = "hash-tiny";  // the same model, found by content
  const int64_t model = s.add_model(m);
  for (const char* name : {"mine 1", "mine 2", "mine 3"}) {
    auto w = s.begin({name, RunKind::Evaluate, model});
    w.add_metric("perplexity", 20);
    w.finish();
  }
}

std::string snapshot(const std::string& db) {
  Store s = Store::open_read_only(db);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& e : s.list()) all.push_back(s.export_json(e.id));
  return all.dump();
}

int64_t by_name(const Store& s, const std::string& name) {
  for (const auto& e : s.list())
    if (e.name == name) return e.id;
  return 0;
}

void expect_refused(const std::string& dest, const std::string& source, const std::string& says) {
  const std::string before = snapshot(dest);
  try {
    import_experiments(dest, source);
    ADD_FAILURE() << "imported " << source;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(source), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot(dest), before);
}

}  // namespace

TEST(StoreImport, CopiesEveryFinishedRunWithNewIdsAndAddsNothingTheSecondTime) {
  test::TempDir dir;
  const std::string src = dir.file("task.db"), dest = dir.file("store.db");
  const Source ids = fill_source(src, dir.file("recipe.json"));
  fill_dest(dest);

  const ImportReport r = import_experiments(dest, src);
  ASSERT_EQ(r.imported.size(), 2u);
  EXPECT_TRUE(r.present.empty());
  EXPECT_EQ(r.skipped_running, std::vector<int64_t>{ids.running});

  Store s = Store::open(dest);
  ASSERT_EQ(s.list().size(), 5u);
  const int64_t calib = by_name(s, "calib"), child = by_name(s, "w4");
  EXPECT_GT(calib, 3);  // after the destination's own runs, not over them
  EXPECT_EQ(s.get(by_name(s, "mine 1")).summary.name, "mine 1");
  const ExperimentDetail d = s.get(child);
  EXPECT_EQ(d.summary.parent_id, calib);
  EXPECT_EQ(d.summary.status, RunStatus::Completed);
  ASSERT_EQ(d.metrics.size(), 1u);
  EXPECT_EQ(d.metrics[0].value, 12.5);
  EXPECT_EQ(s.dataset(*d.metrics[0].dataset_id).content_hash, "hash-sotu");
  EXPECT_EQ(d.layers.size(), 2u);
  EXPECT_EQ(d.artifacts.size(), 1u);
  EXPECT_EQ(d.summary.tags, (std::vector<std::string>{"sweep", "w4"}));
  EXPECT_EQ(s.models().size(), 1u);  // the same model by content: not added again
  const auto arrays = s.stat_arrays(calib, "model.layers.0.self_attn:k");
  ASSERT_EQ(arrays.count("channel_absmax"), 1u);
  EXPECT_EQ(arrays.at("channel_absmax").to_doubles(), (std::vector<double>{1, 3.5, 2}));

  const std::string before = snapshot(dest);
  const ImportReport again = import_experiments(dest, src);
  EXPECT_TRUE(again.imported.empty());
  ASSERT_EQ(again.present.size(), 2u);
  EXPECT_EQ(again.present[1].second, child);
  EXPECT_EQ(snapshot(dest), before);
}

TEST(StoreImport, IntoAMissingFileCreatesTheStore) {
  test::TempDir dir;
  const std::string src = dir.file("task.db");
  const Source ids = fill_source(src, dir.file("recipe.json"));
  const ImportReport r = import_experiments(dir.file("new.db"), src);
  EXPECT_EQ(r.imported.size(), 2u);
  EXPECT_EQ(Store::open(dir.file("new.db")).list().size(), 2u);
}

TEST(StoreImport, RefusesWhatItCannotReadAndChangesNothing) {
  test::TempDir dir;
  const std::string dest = dir.file("store.db");
  fill_dest(dest);

  expect_refused(dest, dir.file("missing.db"), "no such database");
  expect_refused(dest, dest, "destination database itself");

  const std::string text = dir.file("notes.db");
  std::ofstream(text) << "these are my notes, not a database\n";
  expect_refused(dest, text, "notes.db");

  // Another program's SQLite database.
  const std::string other = dir.file("other.db");
  raw_sql(other, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
  expect_refused(dest, other, "other.db");

  // A Quench database from a newer Quench.
  const std::string newer = dir.file("newer.db");
  fill_source(newer, dir.file("recipe.json"));
  raw_sql(newer, "PRAGMA user_version = 99;");
  expect_refused(dest, newer, "newer");

  // One with a run of a kind this Quench does not know: it would make the destination unreadable.
  const std::string unknown = dir.file("unknown-kind.db");
  fill_source(unknown, dir.file("recipe.json"));
  raw_sql(unknown, "UPDATE experiments SET kind = 'distill' WHERE id = 1;");
  expect_refused(dest, unknown, "experiment #1: unknown run kind 'distill'");

  // A damaged one: a good database whose pages after the first are overwritten.
  const std::string bad = dir.file("damaged.db");
  fill_source(bad, dir.file("recipe.json"));
  { Store reopened = Store::open(bad); }  // checkpointed into the main file on close
  const auto size = std::filesystem::file_size(bad);
  ASSERT_GT(size, 8192u);
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string junk(size - 4096, '\xA5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  expect_refused(dest, bad, "damaged.db");
}

// A run kind this build does not know (a newer Quench, or another program, wrote the row) is
// reported with the experiment's number when the store is read, not taken for another kind.
TEST(StoreRead, AnUnknownRunKindNamesTheExperiment) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  { Store::open(db).begin({"mine", RunKind::Evaluate}).finish(); }
  raw_sql(db, "UPDATE experiments SET kind = 'distill' WHERE id = 1;");
  Store s = Store::open(db);
  try {
    s.list();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "experiment #1: unknown run kind 'distill' (one of compress, evaluate, sensitivity, calibrate)");
  }
}

TEST(StoreImport, DoesNotBlockAProcessWritingToTheSource) {
  test::TempDir dir;
  const std::string src = dir.file("task.db"), dest = dir.file("store.db");
  Source ids = fill_source(src, dir.file("recipe.json"));
  // Another connection holds the source's write lock for the whole import (a task still
  // recording): the import only reads the source, so neither waits for the other.
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(src.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer, "BEGIN IMMEDIATE; UPDATE experiments SET notes = 'busy' WHERE id = 1;", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto t0 = std::chrono::steady_clock::now();
  const ImportReport r = import_experiments(dest, src);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);  // the busy timeout is 5 s
  EXPECT_EQ(r.imported.size(), 2u);
  EXPECT_EQ(sqlite3_exec(writer, "COMMIT;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(writer);
}
