// A database written with the first schema (version 1) opens with the current code, its data
// carried over into the new tables.
#include <gtest/gtest.h>

#include "core/store/schema.h"
#include "core/store/store.h"
#include "core/store/process.h"
#include "test_util.h"

using namespace quench;

namespace {
// What a version-1 Quench wrote: two models' worth of runs, one left running by a process of an
// earlier boot, tags as comma-separated text and one dataset per experiment.
void write_v1_database(const std::string& path) {
  sqlite::Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  migrate(db, 1);
  ASSERT_EQ(db.query_int("PRAGMA user_version"), 1);
  const std::string host = current_process().host;
  db.exec(R"sql(
    INSERT INTO models (id, path, architecture, content_hash, parameters, bytes, dtype, added_at)
      VALUES (1, '/models/llama-tiny', 'LlamaForCausalLM', 'hash-llama', 1000, 4000, 'F32', '2026-01-01T00:00:00.000Z');
    INSERT INTO datasets (id, path, kind, content_hash, bytes, samples, added_at)
      VALUES (1, '/data/wiki.txt', 'text', 'hash-wiki', 123, 10, '2026-01-01T00:00:00.000Z'),
             (2, '/data/calib.txt', 'text', 'hash-calib', 456, NULL, '2026-01-01T00:00:00.000Z');
    INSERT INTO experiments (id, name, kind, model_id, dataset_id, recipe, status, error, started_at, finished_at,
                             device, quench_version, torch_version, parent_id, notes, tags)
      VALUES (1, 'w4 calibration', 'calibrate', 1, 2, '{"bits":4}', 'completed', NULL, '2026-01-02T10:00:00.000Z',
              '2026-01-02T10:05:00.000Z', 'cpu', '0.0.9', '1.13.0', NULL, 'first try', 'int4, gptq,baseline'),
             (2, 'w4 eval', 'evaluate', 1, 1, '{}', 'failed', 'out of memory', '2026-01-02T11:00:00.000Z',
              '2026-01-02T11:01:00.000Z', 'cuda:0', '0.0.9', '1.13.0', 1, '', '');
    INSERT INTO metrics (experiment_id, name, value, split) VALUES (2, 'perplexity', 12.75, 'test'), (1, 'size_bytes', 2000, '');
    INSERT INTO layer_results (experiment_id, layer, kind, settings, bits, params_before, params_after, sparsity, rank,
                               weight_rel_mse, weight_sqnr_db, output_rel_mse, output_sqnr_db)
      VALUES (1, 'model.layers.0.mlp.up_proj', 'linear', '{"bits":4,"group_size":128}', 4, 4096, 4096, NULL, NULL,
              0.0025, 26.0, 0.004, 24.0);
    INSERT INTO artifacts (experiment_id, path, kind, sha256, bytes, added_at)
      VALUES (1, '/out/recipe.json', 'recipe', 'abc', 10, '2026-01-02T10:05:00.000Z');
  )sql");
  // A run left `running` by a process of an earlier boot of this machine.
  auto s = db.prepare(
      "INSERT INTO experiments (id, name, kind, model_id, status, started_at, owner_host, owner_boot, owner_pid, owner_start) "
      "VALUES (3, 'crashed', 'compress', 1, 'running', '2026-01-03T09:00:00.000Z', ?1, 'a-boot-long-ago', 4242, 1)");
  s.bind(1, host).run();
}
}  // namespace

TEST(StoreMigration, Version1DatabaseOpensWithDataPreserved) {
  test::TempDir dir;
  const std::string path = dir.file("v1.db");
  write_v1_database(path);

  Store store = Store::open(path);
  EXPECT_EQ(store.schema_version(), schema_version_known());
  EXPECT_GE(schema_version_known(), 2);
  EXPECT_EQ(store.integrity_check(), "ok");
  EXPECT_EQ(store.interrupted_on_open(), std::vector<int64_t>{3});

  ListFilter oldest_first;
  oldest_first.order = ListFilter::Order::Oldest;
  const auto all = store.list(oldest_first);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].name, "w4 calibration");
  EXPECT_EQ(all[0].tags, (std::vector<std::string>{"baseline", "gptq", "int4"}));
  EXPECT_EQ(all[0].notes, "first try");
  EXPECT_EQ(all[0].model_path, "/models/llama-tiny");
  EXPECT_EQ(*all[0].finished_at, "2026-01-02T10:05:00.000Z");
  EXPECT_EQ(all[0].updated_at, "2026-01-02T10:05:00.000Z");
  EXPECT_EQ(all[1].status, RunStatus::Failed);
  EXPECT_EQ(all[1].error, "out of memory");
  EXPECT_EQ(all[1].parent_id, std::optional<int64_t>(1));
  EXPECT_TRUE(all[1].tags.empty());
  EXPECT_EQ(all[2].status, RunStatus::Interrupted);
  EXPECT_EQ(*all[2].finished_at, "2026-01-03T09:00:00.000Z");  // its last sign of life

  const auto calib = store.get(1);
  ASSERT_EQ(calib.datasets.size(), 1u);
  EXPECT_EQ(calib.datasets[0].dataset.path, "/data/calib.txt");
  EXPECT_EQ(calib.datasets[0].role, "calib");
  EXPECT_EQ(calib.recipe, nlohmann::json({{"bits", 4}}));
  EXPECT_EQ(calib.quench_version, "0.0.9");
  ASSERT_EQ(calib.layers.size(), 1u);
  EXPECT_EQ(calib.layers[0].settings["group_size"], 128);
  EXPECT_EQ(*calib.layers[0].output_sqnr_db, 24.0);
  EXPECT_FALSE(calib.layers[0].sparsity.has_value());
  ASSERT_EQ(calib.artifacts.size(), 1u);
  EXPECT_EQ(calib.artifacts[0].path, "/out/recipe.json");
  ASSERT_EQ(calib.metrics.size(), 1u);
  EXPECT_FALSE(calib.metrics[0].dataset_id.has_value());  // only evaluate runs' metrics get the dataset

  const auto eval = store.get(2);
  ASSERT_EQ(eval.datasets.size(), 1u);
  EXPECT_EQ(eval.datasets[0].role, "eval");
  ASSERT_EQ(eval.metrics.size(), 1u);
  EXPECT_EQ(eval.metrics[0].value, 12.75);
  EXPECT_EQ(eval.metrics[0].dataset, "/data/wiki.txt");
  EXPECT_EQ(eval.metrics[0].split, "test");

  // The migrated file takes new-schema writes, and cascades still reach the rebuilt table's children.
  auto w = store.begin({"after migration", RunKind::Evaluate, 1});
  LayerStats st;
  st.point = "model.layers.0.mlp.up_proj:in";
  st.absmax = 3.5;
  st.arrays["channel_absmax"] = StatArray::from(std::vector<float>{1, 3.5});
  w.add_layer_stats(st);
  w.finish();
  store.remove(1);
  EXPECT_EQ(store.list().size(), 3u);
  EXPECT_FALSE(store.get(2).summary.parent_id.has_value());  // ON DELETE SET NULL
  EXPECT_EQ(store.integrity_check(), "ok");
}

TEST(StoreMigration, SecondOpenDoesNothing) {
  test::TempDir dir;
  write_v1_database(dir.file("v1.db"));
  { Store::open(dir.file("v1.db")); }
  Store again = Store::open(dir.file("v1.db"));
  EXPECT_EQ(again.schema_version(), schema_version_known());
  EXPECT_EQ(again.list().size(), 3u);
  EXPECT_TRUE(again.interrupted_on_open().empty());
}
