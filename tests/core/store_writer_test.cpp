// Recording runs through ExperimentWriter and reading them back through Store's queries.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/store/record_json.h"
#include "core/store/store.h"
#include "test_util.h"

using namespace quench;

namespace {
ModelRecord some_model(const std::string& name) {
  ModelRecord m;
  m.path = "/models/" + name;
  m.architecture = "LlamaForCausalLM";
  m.content_hash = "hash-" + name;
  m.parameters = 1000;
  m.bytes = 4000;
  m.dtype = "BF16";
  return m;
}

LayerResult layer(const std::string& name, double bits, double out_mse) {
  LayerResult r;
  r.layer = name;
  r.kind = "linear";
  r.settings = {{"bits", bits}, {"method", "rtn"}};
  r.bits = bits;
  r.params_before = 4096;
  r.params_after = 4096;
  r.weight_rel_mse = out_mse / 2;
  r.output_rel_mse = out_mse;
  r.output_sqnr_db = -10 * std::log10(out_mse);
  return r;
}

// An evaluation-like run: perplexity and size, two layers.
int64_t record_eval(Store& s, const std::string& name, int64_t model, double ppl, double bits, RunStatus status = RunStatus::Completed) {
  ExperimentSpec spec;
  spec.name = name;
  spec.kind = RunKind::Evaluate;
  spec.model_id = model;
  auto w = s.begin(spec);
  w.add_metric("perplexity", ppl);
  w.add_metric(metric_names::kSizeBytes, 1000 * bits);
  w.add_layer_results({layer("model.layers.0.q_proj", bits, 0.01 * (8 - bits)), layer("model.layers.0.k_proj", 8, 0.001)});
  w.finish(status, status == RunStatus::Failed ? "boom" : "");
  return w.id();
}
}  // namespace

TEST(StoreWriter, RecordsEverythingAndReadsItBack) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t model = s.add_model(some_model("llama"));
  DatasetRecord calib{0, "/data/calib.txt", "text", "hash-calib", 100, 64};
  DatasetRecord eval{0, "/data/wiki.txt", "text", "hash-wiki", 200, std::nullopt};
  const int64_t calib_id = s.add_dataset(calib), eval_id = s.add_dataset(eval);
  std::ofstream(dir.file("recipe.json")) << "{\"bits\": 4}";

  ExperimentSpec spec;
  spec.name = "w4 gptq";
  spec.kind = RunKind::Compress;
  spec.model_id = model;
  spec.recipe = {{"default", {{"bits", 4}, {"method", "gptq"}}}};
  spec.datasets = {{calib_id, "calib"}, {eval_id, "eval"}};
  spec.device = "cpu";
  spec.notes = "baseline";
  spec.tags = {"int4", "gptq"};
  auto w = s.begin(spec);
  w.add_metric("perplexity", 99.0, eval_id, "test");
  w.add_metric("perplexity", 12.5, eval_id, "test");  // replaces
  w.add_metric("perplexity", 13.0, eval_id, "validation");
  w.add_metric(metric_names::kBitsPerWeight, 4.25);
  w.add_layer_result(layer("model.layers.0.q_proj", 8, 0.5));
  w.add_layer_result(layer("model.layers.0.q_proj", 4, 0.02));  // replaces
  LayerStats st;
  st.point = "model.layers.0.self_attn:k";
  st.layer = "model.layers.0.self_attn";
  st.numel = 4096;
  st.absmax = 17.5;
  st.p99_99 = 9.25;
  st.kurtosis = 31.0;
  st.outliers = 3;
  st.extra = {{"zero_fraction", 0.01}};
  st.arrays["hist_counts"] = StatArray::from(std::vector<int64_t>{1, 5, 20, 5, 1});
  st.arrays["hist_edges"] = StatArray::from(std::vector<double>{-2, -1, 0, 1, 2, 3});
  st.arrays["channel_absmax"] = StatArray::from(at::tensor({1.0f, 17.5f, 2.0f}));
  w.add_layer_stats(st);
  w.add_artifact(Artifact::of_file(dir.file("recipe.json"), "recipe"));

  // While recording, it lists as running with what is there so far.
  EXPECT_EQ(s.get(w.id()).summary.status, RunStatus::Running);
  EXPECT_EQ(s.get(w.id()).layers.size(), 1u);
  w.finish();
  EXPECT_THROW(w.add_metric("late", 1), Error);
  EXPECT_THROW(w.finish(), Error);

  const ExperimentDetail d = s.get(w.id());
  EXPECT_EQ(d.summary.name, "w4 gptq");
  EXPECT_EQ(d.summary.kind, RunKind::Compress);
  EXPECT_EQ(d.summary.status, RunStatus::Completed);
  EXPECT_EQ(d.summary.tags, (std::vector<std::string>{"gptq", "int4"}));
  EXPECT_EQ(d.summary.notes, "baseline");
  EXPECT_EQ(d.summary.device, "cpu");
  EXPECT_EQ(d.summary.model_path, "/models/llama");
  ASSERT_TRUE(d.summary.finished_at);
  EXPECT_LE(d.summary.started_at, *d.summary.finished_at);
  EXPECT_TRUE(d.summary.error.empty());
  EXPECT_EQ(d.quench_version, QUENCH_VERSION);
  EXPECT_FALSE(d.torch_version.empty());
  EXPECT_EQ(d.recipe["default"]["method"], "gptq");
  ASSERT_TRUE(d.model);
  EXPECT_EQ(d.model->parameters, 1000);
  ASSERT_EQ(d.datasets.size(), 2u);
  EXPECT_EQ(d.datasets[0].role, "calib");
  EXPECT_EQ(d.datasets[0].dataset.samples, std::optional<int64_t>(64));
  EXPECT_EQ(d.datasets[1].dataset.path, "/data/wiki.txt");

  ASSERT_EQ(d.metrics.size(), 3u);
  EXPECT_EQ(d.metrics[0].name, "perplexity");
  EXPECT_EQ(d.metrics[0].value, 12.5);
  EXPECT_EQ(d.metrics[0].split, "test");
  EXPECT_EQ(d.metrics[0].dataset, "/data/wiki.txt");
  EXPECT_EQ(d.metrics[1].value, 13.0);
  EXPECT_EQ(d.metrics[1].split, "validation");
  EXPECT_EQ(d.metrics[2].name, "bits_per_weight");
  EXPECT_FALSE(d.metrics[2].dataset_id);

  ASSERT_EQ(d.layers.size(), 1u);
  EXPECT_EQ(*d.layers[0].bits, 4);
  EXPECT_EQ(d.layers[0].settings["bits"], 4);
  EXPECT_DOUBLE_EQ(*d.layers[0].output_sqnr_db, -10 * std::log10(0.02));
  EXPECT_FALSE(d.layers[0].rank);

  ASSERT_EQ(d.stats.size(), 1u);
  EXPECT_EQ(d.stats[0].point, "model.layers.0.self_attn:k");
  EXPECT_EQ(*d.stats[0].absmax, 17.5);
  EXPECT_EQ(*d.stats[0].outliers, 3);
  EXPECT_FALSE(d.stats[0].mean);
  EXPECT_EQ(d.stats[0].extra["zero_fraction"], 0.01);
  EXPECT_TRUE(d.stats[0].arrays.empty());
  EXPECT_EQ(d.stats[0].array_names, (std::vector<std::string>{"channel_absmax", "hist_counts", "hist_edges"}));

  const auto arrays = s.stat_arrays(w.id(), "model.layers.0.self_attn:k");
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays.at("hist_counts").to_doubles(), (std::vector<double>{1, 5, 20, 5, 1}));
  EXPECT_EQ(arrays.at("hist_edges").dtype, ArrayDtype::F64);
  EXPECT_TRUE(at::equal(arrays.at("channel_absmax").to_tensor(), at::tensor({1.0f, 17.5f, 2.0f})));
  EXPECT_EQ(s.get(w.id(), true).stats[0].arrays.size(), 3u);

  ASSERT_EQ(d.artifacts.size(), 1u);
  EXPECT_EQ(d.artifacts[0].kind, "recipe");
  EXPECT_EQ(d.artifacts[0].bytes, 11);
  EXPECT_EQ(d.artifacts[0].sha256.size(), 64u);
}

TEST(StoreWriter, ModelsAndDatasetsAreDeduplicatedByContent) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t a = s.add_model(some_model("llama"));
  ModelRecord moved = some_model("llama");
  moved.path = "/elsewhere/llama";
  EXPECT_EQ(s.add_model(moved), a);
  EXPECT_EQ(s.model(a).path, "/elsewhere/llama");
  EXPECT_NE(s.add_model(some_model("mamba")), a);
  EXPECT_EQ(s.models().size(), 2u);
  EXPECT_THROW(s.model(999), Error);
  EXPECT_THROW(s.add_model(ModelRecord{}), Error);
}

TEST(StoreWriter, AWriterNeverLeavesARunRunning) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  int64_t abandoned, cancelled, thrown, by_cancel, by_error;
  {
    auto w = s.begin({"abandoned", RunKind::Calibrate});
    abandoned = w.id();
  }
  {
    auto w = s.begin({"cancelled", RunKind::Calibrate});
    w.on_abandon(RunStatus::Cancelled);
    cancelled = w.id();
  }
  try {
    auto w = s.begin({"thrown", RunKind::Calibrate});
    thrown = w.id();
    throw std::runtime_error("disk full");
  } catch (const std::runtime_error&) {
  }
  {
    auto w = s.begin({"by cancel", RunKind::Calibrate});
    by_cancel = w.id();
    try {
      throw Cancelled();
    } catch (...) {
      w.finish_with(std::current_exception());
    }
  }
  {
    auto w = s.begin({"by error", RunKind::Calibrate});
    by_error = w.id();
    try {
      fail("layer x: NaN in weights");
    } catch (...) {
      w.finish_with(std::current_exception());
    }
  }
  EXPECT_EQ(s.get(abandoned).summary.status, RunStatus::Failed);
  EXPECT_NE(s.get(abandoned).summary.error.find("without finishing"), std::string::npos);
  EXPECT_EQ(s.get(cancelled).summary.status, RunStatus::Cancelled);
  EXPECT_EQ(s.get(thrown).summary.status, RunStatus::Failed);
  EXPECT_NE(s.get(thrown).summary.error.find("exception"), std::string::npos);
  EXPECT_EQ(s.get(by_cancel).summary.status, RunStatus::Cancelled);
  EXPECT_EQ(s.get(by_error).summary.status, RunStatus::Failed);
  EXPECT_EQ(s.get(by_error).summary.error, "layer x: NaN in weights");
  ListFilter running;
  running.status = RunStatus::Running;
  EXPECT_TRUE(s.list(running).empty());
}

TEST(StoreWriter, RejectsBadSpecsWithoutWriting) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  EXPECT_THROW(s.begin({"", RunKind::Evaluate}), Error);
  EXPECT_THROW(s.begin({"x", RunKind::Evaluate, 42}), Error);  // no such model
  ExperimentSpec bad_tag{"x", RunKind::Evaluate};
  bad_tag.tags = {"line\nbreak"};
  EXPECT_THROW(s.begin(bad_tag), Error);
  ExperimentSpec bad_parent{"x", RunKind::Evaluate};
  bad_parent.parent_id = 7;
  EXPECT_THROW(s.begin(bad_parent), Error);
  EXPECT_TRUE(s.list().empty());
  auto w = s.begin({"ok", RunKind::Evaluate});
  EXPECT_THROW(w.add_metric("", 1), Error);
  EXPECT_THROW(w.finish(RunStatus::Interrupted), Error);
  w.finish();
}

TEST(StoreQueries, ListFiltersAndSorts) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t llama = s.add_model(some_model("llama")), mamba = s.add_model(some_model("mamba"));
  record_eval(s, "b-eval", llama, 12, 4);
  record_eval(s, "a-eval", mamba, 11, 8);
  record_eval(s, "c-eval", llama, 30, 2, RunStatus::Failed);
  {
    ExperimentSpec spec{"calib run", RunKind::Calibrate, llama};
    spec.tags = {"nightly"};
    spec.notes = "Outliers in layer 3";
    s.begin(spec).finish();
  }
  auto names = [&](const ListFilter& f) {
    std::vector<std::string> out;
    for (const auto& e : s.list(f)) out.push_back(e.name);
    return out;
  };
  EXPECT_EQ(names({}), (std::vector<std::string>{"calib run", "c-eval", "a-eval", "b-eval"}));  // newest first
  ListFilter f;
  f.order = ListFilter::Order::Name;
  EXPECT_EQ(names(f), (std::vector<std::string>{"a-eval", "b-eval", "c-eval", "calib run"}));
  f.kind = RunKind::Evaluate;
  f.model_id = llama;
  EXPECT_EQ(names(f), (std::vector<std::string>{"b-eval", "c-eval"}));
  f.status = RunStatus::Completed;
  EXPECT_EQ(names(f), (std::vector<std::string>{"b-eval"}));
  ListFilter by_model;
  by_model.model = "mamba";
  EXPECT_EQ(names(by_model), (std::vector<std::string>{"a-eval"}));
  ListFilter by_tag;
  by_tag.tag = "nightly";
  EXPECT_EQ(names(by_tag), (std::vector<std::string>{"calib run"}));
  ListFilter by_text;
  by_text.text = "OUTLIERS";
  EXPECT_EQ(names(by_text), (std::vector<std::string>{"calib run"}));
  ListFilter limited;
  limited.limit = 2;
  limited.order = ListFilter::Order::Oldest;
  EXPECT_EQ(names(limited), (std::vector<std::string>{"b-eval", "a-eval"}));
  ListFilter future;
  future.since = "2999-01-01";
  EXPECT_TRUE(names(future).empty());
  ListFilter past;
  past.until = "2999-01-01";
  EXPECT_EQ(names(past).size(), 4u);
}

TEST(StoreQueries, EditsAndDeleteTouchOnlyThatExperiment) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t llama = s.add_model(some_model("llama"));
  const int64_t a = record_eval(s, "a", llama, 12, 4), b = record_eval(s, "b", llama, 11, 8);
  s.rename(a, "renamed");
  s.set_notes(a, "looks good");
  s.set_tags(a, {"x", "y"});
  EXPECT_EQ(s.get(a).summary.name, "renamed");
  EXPECT_EQ(s.get(a).summary.notes, "looks good");
  EXPECT_EQ(s.get(a).summary.tags, (std::vector<std::string>{"x", "y"}));
  s.set_tags(a, {});
  EXPECT_TRUE(s.get(a).summary.tags.empty());
  EXPECT_THROW(s.rename(999, "x"), Error);
  EXPECT_THROW(s.rename(a, ""), Error);
  EXPECT_THROW(s.set_notes(999, "x"), Error);

  const auto b_before = nlohmann::json(s.get(b)).dump();
  s.remove(a);
  EXPECT_THROW(s.get(a), Error);
  EXPECT_THROW(s.remove(a), Error);
  EXPECT_EQ(nlohmann::json(s.get(b)).dump(), b_before);
  EXPECT_EQ(s.models().size(), 1u);
  EXPECT_EQ(s.integrity_check(), "ok");

  // A run this (live) process is recording cannot be deleted from under it.
  auto w = s.begin({"live", RunKind::Calibrate});
  try {
    s.remove(w.id());
    ADD_FAILURE() << "a live run was deleted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("still being recorded"), std::string::npos) << e.what();
  }
  w.finish();
  s.remove(w.id());
}

TEST(StoreQueries, CompareShowsMetricDeltasAndLayerDifferences) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t llama = s.add_model(some_model("llama"));
  const int64_t a = record_eval(s, "w4", llama, 12.0, 4), b = record_eval(s, "w3", llama, 13.5, 3);
  const Comparison c = s.compare({a, b});
  ASSERT_EQ(c.experiments.size(), 2u);
  EXPECT_EQ(c.experiments[1].name, "w3");
  ASSERT_EQ(c.metrics.size(), 2u);
  EXPECT_EQ(c.metrics[0].name, "perplexity");
  EXPECT_EQ(*c.metrics[0].values[0], 12.0);
  EXPECT_EQ(*c.metrics[0].values[1], 13.5);
  EXPECT_DOUBLE_EQ(*c.metrics[0].delta(1), 1.5);
  EXPECT_DOUBLE_EQ(*c.metrics[1].delta(1), -1000);
  EXPECT_EQ(c.layers_total, 2u);
  ASSERT_EQ(c.layers.size(), 1u);  // k_proj is identical in both
  EXPECT_EQ(c.layers[0].layer, "model.layers.0.q_proj");
  EXPECT_EQ(c.layers[0].differing,
            (std::vector<std::string>{"settings", "bits", "weight_rel_mse", "output_rel_mse", "output_sqnr_db"}));

  // A layer recorded in only one run is a difference too.
  auto w = s.begin({"partial", RunKind::Evaluate, llama});
  w.add_metric("perplexity", 11);
  w.add_layer_result(layer("model.layers.0.k_proj", 8, 0.001));
  w.finish();
  const Comparison c3 = s.compare({a, b, w.id()});
  ASSERT_EQ(c3.layers.size(), 1u);
  EXPECT_EQ(c3.layers[0].layer, "model.layers.0.q_proj");
  EXPECT_FALSE(c3.layers[0].results[2]);
  EXPECT_EQ(c3.layers[0].differing.size(), 5u);  // among the two runs that have it
  const Comparison missing_only = s.compare({a, w.id()});
  ASSERT_EQ(missing_only.layers.size(), 1u);
  EXPECT_TRUE(missing_only.layers[0].differing.empty());
  EXPECT_FALSE(missing_only.layers[0].results[1]);
  EXPECT_FALSE(c3.metrics[1].values[2]);
  EXPECT_FALSE(c3.metrics[1].delta(2));
  EXPECT_THROW(s.compare({a, 999}), Error);
}

TEST(StoreQueries, MetricPointsForTheParetoView) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t llama = s.add_model(some_model("llama")), mamba = s.add_model(some_model("mamba"));
  record_eval(s, "w8", llama, 10.0, 8);
  record_eval(s, "w4", llama, 12.0, 4);
  record_eval(s, "w2", llama, 80.0, 2, RunStatus::Failed);
  record_eval(s, "other model", mamba, 9.0, 4);
  const auto pts = s.metric_points(llama, metric_names::kSizeBytes, "perplexity");
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].name, "w4");
  EXPECT_EQ(pts[0].x, 4000);
  EXPECT_EQ(pts[0].y, 12.0);
  EXPECT_EQ(pts[1].name, "w8");
}

TEST(StoreQueries, ExportJsonAndCsv) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t id = record_eval(s, "w4, \"quoted\"", s.add_model(some_model("llama")), 12.0, 4);
  const nlohmann::json j = s.export_json(id);
  EXPECT_EQ(j["quench_export"], 1);
  EXPECT_EQ(j["name"], "w4, \"quoted\"");
  EXPECT_EQ(j["metrics"][0]["value"], 12.0);
  EXPECT_EQ(j["layers"].size(), 2u);
  EXPECT_EQ(j["model_record"]["architecture"], "LlamaForCausalLM");

  const std::string csv = s.export_csv(id);
  EXPECT_EQ(csv.rfind("experiment_id,experiment,section,item,dataset,split,field,value\n", 0), 0u);
  const std::string prefix = std::to_string(id) + ",\"w4, \"\"quoted\"\"\",";
  EXPECT_NE(csv.find(prefix + "metric,perplexity,,,value,12.0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(prefix + "layer,model.layers.0.q_proj,,,bits,4.0\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(prefix + "experiment,,,,status,completed\n"), std::string::npos) << csv;
}

TEST(StoreRecords, TimesParseAndDurationsFollowTheHeartbeat) {
  EXPECT_EQ(parse_store_time("2026-11-22T19:47:34.123Z"), std::optional<int64_t>(1795376854123));
  EXPECT_FALSE(parse_store_time("2026-11-22 19:47"));
  EXPECT_FALSE(parse_store_time("2026-11-22T19:47:34.123Z trailing"));
  ExperimentSummary e;
  e.started_at = "2026-11-22T19:47:34.123Z";
  e.updated_at = "2026-11-22T19:48:00.000Z";
  EXPECT_DOUBLE_EQ(*run_seconds(e), 25.877);  // running: up to the last heartbeat
  e.finished_at = "2026-11-22T20:47:34.123Z";
  EXPECT_DOUBLE_EQ(*run_seconds(e), 3600);
  EXPECT_EQ(parse_status("interrupted"), RunStatus::Interrupted);
  EXPECT_THROW(parse_status("paused"), UsageError);
}

TEST(RunKinds, NamesRoundTripAndUnknownOnesAreRefused) {
  for (RunKind k : kRunKinds) EXPECT_EQ(parse_run_kind(run_kind_name(k)), k);
  EXPECT_STREQ(run_kind_name(RunKind::Evaluate), "evaluate");
  try {
    parse_run_kind("quantize");
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "unknown run kind 'quantize' (one of compress, evaluate, sensitivity, calibrate)");
  }
}

TEST(StoreWriter, DataVersionMovesWhenAWriterCommits) {
  test::TempDir dir;
  Store s = Store::open(dir.file("q.db"));
  const int64_t v0 = s.data_version();
  auto w = s.begin({"run", RunKind::Calibrate});
  const int64_t v1 = s.data_version();
  EXPECT_NE(v1, v0);
  EXPECT_EQ(s.data_version(), v1);  // nothing new
  const std::string before = s.get(w.id()).summary.updated_at;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  w.heartbeat();
  EXPECT_NE(s.data_version(), v1);
  EXPECT_GT(s.get(w.id()).summary.updated_at, before);
  w.finish();
  EXPECT_THROW(w.heartbeat(), Error);
}
