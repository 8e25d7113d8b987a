// quench-cli experiments, end to end, on a database these tests fill through the store API.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/store/store.h"
#include "cli_util.h"

using namespace quench;
using test::run_cli;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Filled {
  int64_t rtn = 0, gptq = 0, calib = 0;
};

// Two evaluation-like runs of one model that differ in one layer's bits, and a calibration run.
Filled fill(const std::string& db) {
  Store s = Store::open(db);
  ModelRecord m;
  m.path = "/models/llama-tiny";
  m.architecture = "LlamaForCausalLM";
  m.content_hash = "hash-llama";
  m.parameters = 123456;
  m.bytes = 500000;
  const int64_t model = s.add_model(m);
  const int64_t wiki = s.add_dataset({0, "/data/wikitext2.txt", "text", "hash-wiki", 1000, 100});
  Filled f;
  auto eval = [&](const std::string& name, double ppl, double q_bits) {
    ExperimentSpec spec{name, RunKind::Evaluate, model};
    spec.datasets = {{wiki, "eval"}};
    spec.tags = {"w4"};
    auto w = s.begin(spec);
    w.add_metric("perplexity", ppl, wiki, "test");
    w.add_metric(metric_names::kSizeBytes, 1000 * q_bits);
    w.add_layer_results({test::linear_result("model.layers.0.self_attn.q_proj", q_bits, 0.01), test::linear_result("model.layers.0.mlp.up_proj", 4, 0.02)});
    w.finish();
    return w.id();
  };
  f.rtn = eval("w4-rtn", 12.0, 4);
  f.gptq = eval("w4-gptq", 11.25, 3);
  auto w = s.begin({"calibration", RunKind::Calibrate, model});
  LayerStats st;
  st.point = "model.layers.0.self_attn:k";
  st.absmax = 17.5;
  st.arrays["channel_absmax"] = StatArray::from(std::vector<float>{1, 17.5});
  w.add_layer_stats(st);
  w.finish();
  f.calib = w.id();
  return f;
}
}  // namespace

TEST(ExperimentsCli, ListShowsEveryRunAndFilters) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  fill(db);
  auto r = run_cli({"experiments", "list", "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "w4-rtn") && contains(r.out, "w4-gptq") && contains(r.out, "calibration")) << r.out;
  EXPECT_TRUE(contains(r.out, "completed") && contains(r.out, "llama-tiny")) << r.out;

  r = run_cli({"experiments", "list", "--db", db, "--kind", "evaluate", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "w4-gptq");  // newest first
  EXPECT_EQ(j[0]["status"], "completed");
  EXPECT_EQ(j[0]["tags"], nlohmann::json({"w4"}));
  EXPECT_TRUE(j[0]["duration_s"].is_number());

  r = run_cli({"experiments", "list", "--db", db, "--search", "gptq", "--json"});
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 1u);
  EXPECT_EQ(run_cli({"experiments", "list", "--db", db, "--status", "bogus"}).code, 2);
  EXPECT_EQ(run_cli({"experiments", "list", "--db", db, "--frobnicate"}).code, 2);
  EXPECT_EQ(run_cli({"experiments", "dance", "--db", db}).code, 2);
  EXPECT_EQ(run_cli({"experiments", "--help"}).code, 0);
}

TEST(ExperimentsCli, ShowPrintsTheWholeRun) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  const Filled f = fill(db);
  auto r = run_cli({"experiments", "show", std::to_string(f.rtn), "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"w4-rtn", "evaluate", "/models/llama-tiny", "perplexity", "wikitext2.txt", "12",
                           "model.layers.0.self_attn.q_proj", "size_bytes"})
    EXPECT_TRUE(contains(r.out, part)) << part << " missing from\n" << r.out;

  r = run_cli({"experiments", "show", std::to_string(f.calib), "--db", db, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stats"][0]["absmax"], 17.5);
  EXPECT_EQ(j["stats"][0]["array_names"], nlohmann::json({"channel_absmax"}));

  r = run_cli({"experiments", "show", "999", "--db", db});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, db) && contains(r.err, "no experiment with id 999")) << r.err;
  EXPECT_EQ(run_cli({"experiments", "show", "abc", "--db", db}).code, 2);
}

TEST(ExperimentsCli, CompareShowsBothMetricsTheirDifferenceAndTheLayerDiff) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  const Filled f = fill(db);
  auto r = run_cli({"experiments", "compare", std::to_string(f.rtn), std::to_string(f.gptq), "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string ppl_line, bits_line;
  for (std::string l; std::getline(lines, l);) {
    if (l.rfind("perplexity", 0) == 0) ppl_line = l;
    if (contains(l, "bits") && !contains(l, "settings")) bits_line = l;
  }
  EXPECT_TRUE(contains(ppl_line, "12") && contains(ppl_line, "11.25") && contains(ppl_line, "-0.75 (-6.2%)")) << r.out;
  EXPECT_TRUE(contains(r.out, "layers: 1 of 2 differ")) << r.out;
  EXPECT_TRUE(contains(r.out, "model.layers.0.self_attn.q_proj")) << r.out;
  EXPECT_FALSE(contains(r.out, "model.layers.0.mlp.up_proj")) << r.out;  // identical in both runs
  EXPECT_TRUE(contains(bits_line, "4") && contains(bits_line, "3")) << r.out;

  r = run_cli({"experiments", "compare", std::to_string(f.rtn), std::to_string(f.gptq), "--db", db, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["metrics"][0]["name"], "perplexity");
  EXPECT_EQ(j["metrics"][0]["values"], nlohmann::json({12.0, 11.25}));
  EXPECT_EQ(j["metrics"][0]["deltas"][1], -0.75);
  EXPECT_EQ(j["layers"][0]["differing"], nlohmann::json({"settings", "bits"}));

  EXPECT_EQ(run_cli({"experiments", "compare", std::to_string(f.rtn), "--db", db}).code, 2);
  EXPECT_EQ(run_cli({"experiments", "compare", std::to_string(f.rtn), "77", "--db", db}).code, 1);
}

TEST(ExperimentsCli, RenameDeleteAndExport) {
  test::TempDir dir;
  const std::string db = dir.file("q.db");
  const Filled f = fill(db);
  const std::string rtn = std::to_string(f.rtn), gptq = std::to_string(f.gptq);

  auto r = run_cli({"experiments", "rename", rtn, "w4 round-to-nearest", "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(run_cli({"experiments", "show", rtn, "--db", db, "--json"}).out)["name"], "w4 round-to-nearest");
  ASSERT_EQ(run_cli({"experiments", "notes", rtn, "baseline", "--db", db}).code, 0);
  ASSERT_EQ(run_cli({"experiments", "tag", rtn, "keep", "paper", "--db", db}).code, 0);
  const auto shown = nlohmann::json::parse(run_cli({"experiments", "show", rtn, "--db", db, "--json"}).out);
  EXPECT_EQ(shown["notes"], "baseline");
  EXPECT_EQ(shown["tags"], nlohmann::json({"keep", "paper"}));

  r = run_cli({"experiments", "export", rtn, "--format", "json", "--out", dir.file("out/run.json"), "--db", db});
  EXPECT_NE(r.code, 0);  // the directory does not exist: reported, nothing half-written
  std::filesystem::create_directory(dir.file("out"));
  r = run_cli({"experiments", "export", rtn, "--format", "json", "--out", dir.file("out/run.json"), "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto exported = nlohmann::json::parse(test::read_file(dir.file("out/run.json")));
  EXPECT_EQ(exported["name"], "w4 round-to-nearest");
  EXPECT_EQ(exported["layers"].size(), 2u);
  r = run_cli({"experiments", "export", rtn, "--format", "csv", "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("experiment_id,experiment,section,item,dataset,split,field,value\n", 0), 0u);
  EXPECT_TRUE(contains(r.out, rtn + ",w4 round-to-nearest,metric,perplexity,/data/wikitext2.txt,test,value,12.0\n")) << r.out;
  EXPECT_EQ(run_cli({"experiments", "export", rtn, "--format", "xml", "--db", db}).code, 2);
  EXPECT_EQ(run_cli({"experiments", "export", rtn, "--db", db}).code, 2);

  r = run_cli({"experiments", "delete", gptq, "--db", db});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "w4-gptq")) << r.out;
  const auto left = nlohmann::json::parse(run_cli({"experiments", "list", "--db", db, "--json"}).out);
  ASSERT_EQ(left.size(), 2u);
  for (const auto& e : left) EXPECT_NE(e["id"], f.gptq);
  EXPECT_EQ(run_cli({"experiments", "show", gptq, "--db", db}).code, 1);
  EXPECT_EQ(run_cli({"experiments", "delete", gptq, "--db", db}).code, 1);
  // The other runs are whole.
  Store s = Store::open(db);
  EXPECT_EQ(s.get(f.rtn).layers.size(), 2u);
  EXPECT_EQ(s.get(f.rtn).metrics.size(), 2u);
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST(ExperimentsCli, RefusesFilesThatAreNotQuenchDatabasesAndLeavesThemAlone) {
  test::TempDir dir;
  const std::string notes = dir.file("notes.txt");
  std::ofstream(notes) << "my precious notes, definitely not SQLite\n";
  const std::string before = test::read_file(notes);
  for (const char* sub : {"list", "delete"}) {
    std::vector<std::string> args = {"experiments", sub};
    if (std::string(sub) == "delete") args.push_back("1");
    args.insert(args.end(), {"--db", notes});
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, 1) << sub;
    EXPECT_TRUE(contains(r.err, notes + ": not a Quench database (file is not a database)")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;  // one line
  }
  EXPECT_EQ(test::read_file(notes), before);

  const std::string other = dir.file("other.db");
  {
    sqlite::Db raw(other, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    raw.exec("CREATE TABLE invoices (n INTEGER)");
  }
  const std::string other_before = test::read_file(other);
  const auto r = run_cli({"experiments", "list", "--db", other});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, other) && contains(r.err, "invoices")) << r.err;
  EXPECT_EQ(test::read_file(other), other_before);
}

TEST(ExperimentsCli, DefaultDatabaseLivesUnderXdgDataHome) {
  test::TempDir dir;
  const auto r = run_cli({"experiments", "list"}, {{"XDG_DATA_HOME", dir.file("xdg")}});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("xdg/quench/quench.db")));
  EXPECT_TRUE(contains(r.out, "no experiments in " + dir.file("xdg/quench/quench.db"))) << r.out;
}
