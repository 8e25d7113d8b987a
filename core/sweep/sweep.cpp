#include "core/sweep/sweep.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/compress/recipe.h"
#include "core/compress/sensitivity.h"
#include "core/models/registry.h"
#include "core/store/metrics.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace quench {

namespace {

// The description's reader: every error names the file and the key.
class Reader {
 public:
  Reader(std::string file, const nlohmann::json& j) : file_(std::move(file)), dir_(fs::path(file_).parent_path()), j_(j) {}

  [[noreturn]] void bad(const std::string& key, const std::string& why) const { fail(file_, ": '", key, "' ", why); }

  void only(const nlohmann::json& obj, const std::string& where, const std::set<std::string>& keys) const {
    for (auto it = obj.begin(); it != obj.end(); ++it)
      if (!keys.count(it.key())) {
        std::string known;
        for (const auto& k : keys) known += (known.empty() ? "" : ", ") + k;
        bad(where + it.key(), "is not a sweep key (known here: " + known + ")");
      }
  }
  const nlohmann::json* find(const nlohmann::json& obj, const std::string& key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  std::string text(const nlohmann::json& obj, const std::string& key, const std::string& where, const std::string& def = "") const {
    const auto* v = find(obj, key);
    if (!v) return def;
    if (!v->is_string() || v->get<std::string>().empty()) bad(where + key, "must be a non-empty string");
    return v->get<std::string>();
  }
  std::optional<int64_t> integer(const nlohmann::json& obj, const std::string& key, const std::string& where, int64_t lo) const {
    const auto* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer() || v->get<int64_t>() < lo) bad(where + key, "must be an integer of at least " + std::to_string(lo));
    return v->get<int64_t>();
  }
  std::optional<double> number(const nlohmann::json& obj, const std::string& key, const std::string& where) const {
    const auto* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) bad(where + key, "must be a number");
    return v->get<double>();
  }
  // A list of strings, or of JSON objects written back as text (recipe settings).
  std::vector<std::string> texts(const nlohmann::json& obj, const std::string& key, const std::string& where) const {
    std::vector<std::string> out;
    const auto* v = find(obj, key);
    if (!v) return out;
    if (!v->is_array()) bad(where + key, "must be a list");
    for (size_t i = 0; i < v->size(); ++i) {
      const auto& e = (*v)[i];
      if (e.is_object()) out.push_back(e.dump());
      else if (e.is_string() && !e.get<std::string>().empty()) out.push_back(e.get<std::string>());
      else bad(where + key + "[" + std::to_string(i) + "]", "must be a non-empty string or an object");
    }
    return out;
  }
  // A path relative to the description's folder, made absolute so tasks can run from anywhere.
  std::string path(const std::string& p, const std::string& key, bool must_exist = true) const {
    fs::path a = fs::path(p).is_absolute() ? fs::path(p) : dir_ / p;
    a = fs::absolute(a).lexically_normal();
    std::error_code ec;
    if (must_exist && !fs::exists(a, ec)) bad(key, "names " + a.string() + ", which does not exist");
    return a.string();
  }
  const std::string& file() const { return file_; }
  const nlohmann::json& root() const { return j_; }

 private:
  std::string file_;
  fs::path dir_;
  const nlohmann::json& j_;
};

std::string grid_label(int bits, int64_t group, const std::string& method, bool symmetric) {
  std::ostringstream s;
  s << "w" << bits << (group > 0 ? "-g" + std::to_string(group) : std::string("-channel")) << "-" << method << (symmetric ? "" : "-asym");
  return s.str();
}

}  // namespace

nlohmann::json SweepPlan::to_json() const {
  nlohmann::json jobs_j = nlohmann::json::array();
  for (const auto& j : jobs) jobs_j.push_back({{"index", j.index}, {"name", j.name}, {"kind", run_kind_name(j.kind)}, {"args", j.args}});
  nlohmann::json out = {{"name", name}, {"description_file", description_file}, {"setup", setup}, {"jobs", jobs_j}};
  if (sensitivity) {
    nlohmann::json s = {{"name", sensitivity->name}, {"layers", sensitivity->layers}, {"jobs", sensitivity->jobs}};
    if (sensitivity->budget) s["budget"] = *sensitivity->budget;
    if (sensitivity->budget_sparsity) s["budget_sparsity"] = *sensitivity->budget_sparsity;
    out["sensitivity"] = s;
  }
  return out;
}

SweepPlan SweepPlan::from_json(const nlohmann::json& j, const std::string& origin) {
  try {
    SweepPlan p;
    p.name = j.at("name").get<std::string>();
    p.description_file = j.at("description_file").get<std::string>();
    p.setup = j.at("setup").get<std::vector<std::string>>();
    for (const auto& x : j.at("jobs"))
      p.jobs.push_back({x.at("index").get<int>(), x.at("name").get<std::string>(), parse_run_kind(x.at("kind").get<std::string>()),
                        x.at("args").get<std::vector<std::string>>()});
    for (size_t i = 0; i < p.jobs.size(); ++i)
      QUENCH_CHECK(p.jobs[i].index == static_cast<int>(i), origin, ": job ", i, " has index ", p.jobs[i].index);
    if (j.contains("sensitivity")) {
      const auto& s = j["sensitivity"];
      SweepSensitivity ss;
      ss.name = s.at("name").get<std::string>();
      ss.layers = s.at("layers").get<std::vector<std::string>>();
      ss.jobs = s.at("jobs").get<std::vector<int>>();
      if (s.contains("budget")) ss.budget = s["budget"].get<double>();
      if (s.contains("budget_sparsity")) ss.budget_sparsity = s["budget_sparsity"].get<double>();
      for (int k : ss.jobs) QUENCH_CHECK(k >= 0 && k < static_cast<int>(p.jobs.size()), origin, ": sensitivity chunk job ", k, " does not exist");
      p.sensitivity = ss;
    }
    return p;
  } catch (const nlohmann::json::exception& e) {
    fail(origin, ": not a sweep plan written by quench-cli (", e.what(), ")");
  } catch (const UsageError& e) {  // a job's kind
    fail(origin, ": ", e.what());
  }
}

SweepPlan plan_sweep(const std::string& description_file, const std::string& recipes_dir) {
  std::ifstream in(description_file);
  QUENCH_CHECK(in, description_file, ": cannot open the sweep description");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(description_file, ": not valid JSON (", e.what(), ")");
  }
  QUENCH_CHECK(j.is_object(), description_file, ": a sweep description is a JSON object");
  const Reader r(fs::absolute(description_file).lexically_normal().string(), j);
  r.only(j, "", {"name", "model", "calib", "samples", "seq", "eval", "ctx", "max_windows", "device", "dtype", "recipes", "grid",
                 "sensitivity", "setup"});

  SweepPlan p;
  p.description_file = r.file();
  p.name = r.text(j, "name", "", fs::path(description_file).stem().string());
  const std::string model_path = r.path(r.text(j, "model", ""), "model");
  if (!r.find(j, "model")) r.bad("model", "is missing: the checkpoint folder (or .gguf file) every job uses");
  p.setup = r.texts(j, "setup", "");

  // The data options every job shares.
  std::vector<std::string> calib, eval, common;
  if (r.find(j, "calib")) {
    calib = {"--calib", r.path(r.text(j, "calib", ""), "calib")};
    if (auto v = r.integer(j, "samples", "", 1)) calib.insert(calib.end(), {"--samples", std::to_string(*v)});
    if (auto v = r.integer(j, "seq", "", 2)) calib.insert(calib.end(), {"--seq", std::to_string(*v)});
  }
  if (!r.find(j, "eval")) r.bad("eval", "is missing: the text every job is evaluated on");
  eval = {"--eval", r.path(r.text(j, "eval", ""), "eval")};
  if (auto v = r.integer(j, "ctx", "", 2)) eval.insert(eval.end(), {"--ctx", std::to_string(*v)});
  if (auto v = r.integer(j, "max_windows", "", 1)) eval.insert(eval.end(), {"--max-windows", std::to_string(*v)});
  const std::string device = r.text(j, "device", "", "cpu");
  // Checked by name only: the machine planning the sweep (a login node) often has no GPU.
  const bool cuda_n = device.rfind("cuda:", 0) == 0 && device.size() > 5 &&
                      device.find_first_not_of("0123456789", 5) == std::string::npos;
  if (device != "cpu" && device != "cuda" && !cuda_n) r.bad("device", "must be cpu, cuda or cuda:N");
  common = {"--device", device};
  if (r.find(j, "dtype")) common.insert(common.end(), {"--dtype", r.text(j, "dtype", "")});

  LoadOptions lo;
  lo.materialize = false;  // shapes and names only: planning must not need the model's memory
  const auto model = load_model(model_path, lo);

  auto add_job = [&](const std::string& name, RunKind kind, std::vector<std::string> args) {
    SweepJob job{static_cast<int>(p.jobs.size()), p.name + "/" + name, kind, {}};
    job.args = {run_kind_name(kind), model_path};
    job.args.insert(job.args.end(), args.begin(), args.end());
    job.args.insert(job.args.end(), {"--name", job.name});
    p.jobs.push_back(job);
  };
  std::set<std::string> names;
  auto add_recipe_job = [&](const std::string& label, const std::string& recipe_arg, const Recipe& recipe, const std::string& key) {
    try {
      (void)resolve(recipe, *model);
    } catch (const Error& e) {
      r.bad(key, std::string("does not apply to ") + model_path + ": " + e.what());
    }
    // compress always calibrates (activation ranges, the per-layer measurements).
    if (calib.empty()) r.bad("calib", "is missing: recipe jobs need calibration text");
    if (!names.insert(label).second) r.bad(key, "repeats the recipe '" + label + "'");
    std::vector<std::string> args = {"--recipe", recipe_arg};
    args.insert(args.end(), calib.begin(), calib.end());
    args.insert(args.end(), eval.begin(), eval.end());
    args.insert(args.end(), common.begin(), common.end());
    add_job(label, RunKind::Compress, args);
  };

  const auto recipes = r.texts(j, "recipes", "");
  for (size_t i = 0; i < recipes.size(); ++i) {
    const std::string key = "recipes[" + std::to_string(i) + "]";
    const std::string& rec = recipes[i];
    if (rec.front() == '{') r.bad(key, "is an object: write the recipe to a file and name the file");
    if (auto named = Recipe::from_name(rec)) {
      add_recipe_job(rec, rec, *named, key);
      continue;
    }
    const std::string file = r.path(rec, key);
    Recipe recipe;
    try {
      recipe = Recipe::from_file(file);
    } catch (const Error& e) {
      r.bad(key, std::string("is not a valid recipe: ") + e.what());
    }
    add_recipe_job(recipe.name.empty() ? fs::path(file).stem().string() : recipe.name, file, recipe, key);
  }

  if (const auto* g = r.find(j, "grid")) {
    if (!g->is_object()) r.bad("grid", "must be an object: {\"bits\": [...], \"group_size\": [...], \"method\": [...]}");
    r.only(*g, "grid.", {"bits", "group_size", "method", "symmetric"});
    auto ints = [&](const std::string& key, std::vector<int64_t> def) {
      const auto* v = r.find(*g, key);
      if (!v) return def;
      if (!v->is_array() || v->empty()) r.bad("grid." + key, "must be a non-empty list of integers");
      std::vector<int64_t> out;
      for (const auto& e : *v) {
        if (!e.is_number_integer() || e.get<int64_t>() < 0) r.bad("grid." + key, "must be a list of integers ≥ 0 (group size 0: per channel)");
        out.push_back(e.get<int64_t>());
      }
      return out;
    };
    const auto bits = ints("bits", {});
    if (bits.empty()) r.bad("grid.bits", "is missing: the weight bit widths to try, e.g. [3, 4, 8]");
    const auto groups = ints("group_size", {128});
    std::vector<std::string> methods = r.texts(*g, "method", "grid.");
    if (methods.empty()) methods = {"rtn"};
    bool symmetric = true;
    if (const auto* s = r.find(*g, "symmetric")) {
      if (!s->is_boolean()) r.bad("grid.symmetric", "must be true or false");
      symmetric = s->get<bool>();
    }
    for (int64_t b : bits)
      for (int64_t gs : groups)
        for (const auto& m : methods) {
          nlohmann::json w = {{"bits", b}, {"symmetric", symmetric}, {"method", m}};
          if (gs > 0) {
            w["strategy"] = "group";
            w["group_size"] = gs;
          } else {
            w["strategy"] = "channel";
          }
          const std::string label = grid_label(static_cast<int>(b), gs, m, symmetric);
          const nlohmann::json rj = {{"name", label}, {"default", {{"weights", w}}}};
          const std::string key = "grid (" + label + ")";
          Recipe recipe;
          try {
            recipe = Recipe::parse(rj, key);
          } catch (const Error& e) {
            r.bad("grid", std::string("makes an invalid recipe: ") + e.what());
          }
          const std::string file = (fs::path(recipes_dir) / (label + ".json")).lexically_normal().string();
          p.generated_recipes.emplace_back(file, rj);
          add_recipe_job(label, file, recipe, key);
        }
  }

  if (const auto* s = r.find(j, "sensitivity")) {
    if (!s->is_object()) r.bad("sensitivity", "must be an object: {\"setting\": \"W4A16-G16\", \"chunks\": 4, ...}");
    r.only(*s, "sensitivity.", {"name", "setting", "candidates", "metric", "layers", "per_block", "chunks", "budget", "budget_sparsity"});
    std::vector<std::string> candidates;
    if (const auto* st = r.find(*s, "setting")) candidates.push_back(st->is_object() ? st->dump() : r.text(*s, "setting", "sensitivity."));
    else r.bad("sensitivity.setting", "is missing: the setting each unit is tried with (a scheme or an override object)");
    for (const auto& c : r.texts(*s, "candidates", "sensitivity.")) candidates.push_back(c);
    for (size_t i = 0; i < candidates.size(); ++i) {
      try {
        (void)candidate_from_string(candidates[i]);
      } catch (const Error& e) {
        r.bad(i == 0 ? "sensitivity.setting" : "sensitivity.candidates[" + std::to_string(i - 1) + "]", e.what());
      }
    }
    SensitivityOptions so;
    so.layers = r.texts(*s, "layers", "sensitivity.");
    const std::string metric = r.text(*s, "metric", "sensitivity.", "");
    if (!metric.empty() && metric != metric_names::kPerplexity && metric != metric_names::kKl && metric != metric_names::kTop1)
      r.bad("sensitivity.metric", "must be perplexity, kl or top1");
    if (const auto* pb = r.find(*s, "per_block")) {
      if (!pb->is_boolean()) r.bad("sensitivity.per_block", "must be true or false");
      so.per_block = pb->get<bool>();
    }
    const int64_t chunks = r.integer(*s, "chunks", "sensitivity.", 1).value_or(1);
    SweepSensitivity ss;
    ss.name = p.name + "/" + r.text(*s, "name", "sensitivity.", "sensitivity " + candidate_from_string(candidates.front()).name);
    ss.layers = so.layers;
    ss.budget = r.number(*s, "budget", "sensitivity.");
    ss.budget_sparsity = r.number(*s, "budget_sparsity", "sensitivity.");
    if (ss.budget && !(*ss.budget > 0)) r.bad("sensitivity.budget", "must be a positive number of bits");
    if (ss.budget_sparsity && !(*ss.budget_sparsity >= 0 && *ss.budget_sparsity < 1)) r.bad("sensitivity.budget_sparsity", "must be in [0, 1)");
    if (ss.budget && ss.budget_sparsity) r.bad("sensitivity.budget_sparsity", "and 'budget' exclude each other: give one");
    if (ss.budget_sparsity && candidates.size() == 1)
      r.bad("sensitivity.candidates", "is missing: budget_sparsity chooses among candidates (e.g. [\"2:4\", \"4:8\"])");
    std::vector<SensitivityUnit> units;
    try {
      units = sensitivity_units(*model, so);
    } catch (const Error& e) {
      r.bad("sensitivity.layers", e.what());
    }
    if (chunks > static_cast<int64_t>(units.size()))
      r.bad("sensitivity.chunks", "is " + std::to_string(chunks) + ", more than the " + std::to_string(units.size()) + " units to measure");
    // Contiguous slices in model order, as even as can be; each names its units' layers exactly.
    for (int64_t c = 0; c < chunks; ++c) {
      const size_t from = units.size() * c / chunks, to = units.size() * (c + 1) / chunks;
      std::string layers;
      for (size_t u = from; u < to; ++u)
        for (const auto& l : units[u].layers) layers += (layers.empty() ? "" : ",") + l;
      std::vector<std::string> args = {"--setting", candidates.front()};
      for (size_t i = 1; i < candidates.size(); ++i) args.insert(args.end(), {"--candidate", candidates[i]});
      if (!metric.empty()) args.insert(args.end(), {"--metric", metric});
      if (so.per_block) args.push_back("--per-block");
      // Each chunk gets the budget too, so that it measures the same candidates (a bits budget
      // with one setting adds its weights at 3, 4 and 8 bits); the suggestion that counts is the merged one.
      if (ss.budget) args.insert(args.end(), {"--budget", nlohmann::json(*ss.budget).dump()});
      if (ss.budget_sparsity) args.insert(args.end(), {"--budget-sparsity", nlohmann::json(*ss.budget_sparsity).dump()});
      args.insert(args.end(), {"--layers", layers});
      args.insert(args.end(), eval.begin(), eval.end());
      args.insert(args.end(), calib.begin(), calib.end());
      args.insert(args.end(), common.begin(), common.end());
      ss.jobs.push_back(static_cast<int>(p.jobs.size()));
      add_job(ss.name.substr(p.name.size() + 1) + " " + std::to_string(c + 1) + "/" + std::to_string(chunks), RunKind::Sensitivity, args);
    }
    p.sensitivity = ss;
  }
  QUENCH_CHECK(!p.jobs.empty(), description_file, ": no jobs: give \"recipes\", \"grid\" or \"sensitivity\"");
  return p;
}

}  // namespace quench
