#include "core/store/record_json.h"

#include <sstream>

#include "core/util/csv.h"

namespace quench {

using nlohmann::json;

namespace {
template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Numbers in their shortest round-trip form; strings as they are; null as an empty cell.
std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}
}  // namespace

const std::vector<LayerResultField>& layer_result_fields() {
  static const std::vector<LayerResultField> fields = {
      {"kind", [](const LayerResult& r) { return json(r.kind); }},
      {"settings", [](const LayerResult& r) { return r.settings; }},
      {"bits", [](const LayerResult& r) { return opt(r.bits); }},
      {"params_before", [](const LayerResult& r) { return opt(r.params_before); }},
      {"params_after", [](const LayerResult& r) { return opt(r.params_after); }},
      {"sparsity", [](const LayerResult& r) { return opt(r.sparsity); }},
      {"rank", [](const LayerResult& r) { return opt(r.rank); }},
      {"weight_rel_mse", [](const LayerResult& r) { return opt(r.weight_rel_mse); }},
      {"weight_sqnr_db", [](const LayerResult& r) { return opt(r.weight_sqnr_db); }},
      {"output_rel_mse", [](const LayerResult& r) { return opt(r.output_rel_mse); }},
      {"output_sqnr_db", [](const LayerResult& r) { return opt(r.output_sqnr_db); }},
  };
  return fields;
}

std::vector<std::pair<std::string, json>> layer_stats_numbers(const LayerStats& s) {
  return {{"numel", opt(s.numel)}, {"min", opt(s.min)},       {"max", opt(s.max)},
          {"absmax", opt(s.absmax)}, {"mean", opt(s.mean)},   {"std", opt(s.std)},
          {"p99_99", opt(s.p99_99)}, {"kurtosis", opt(s.kurtosis)}, {"outliers", opt(s.outliers)}};
}

void to_json(json& j, const ModelRecord& m) {
  j = {{"id", m.id},           {"path", m.path},   {"architecture", m.architecture}, {"content_hash", m.content_hash},
       {"parameters", m.parameters}, {"bytes", m.bytes}, {"dtype", m.dtype}};
}

void to_json(json& j, const DatasetRecord& d) {
  j = {{"id", d.id},        {"path", d.path},   {"kind", d.kind},
       {"content_hash", d.content_hash}, {"bytes", d.bytes}, {"samples", opt(d.samples)}};
}

void to_json(json& j, const ExperimentSummary& e) {
  j = {{"id", e.id},
       {"name", e.name},
       {"kind", run_kind_name(e.kind)},
       {"status", status_name(e.status)},
       {"model_id", opt(e.model_id)},
       {"model", e.model_path},
       {"architecture", e.model_architecture},
       {"started_at", e.started_at},
       {"updated_at", e.updated_at},
       {"finished_at", opt(e.finished_at)},
       {"device", e.device},
       {"parent_id", opt(e.parent_id)},
       {"notes", e.notes},
       {"tags", e.tags},
       {"error", e.error.empty() ? json(nullptr) : json(e.error)}};
}

void to_json(json& j, const Metric& m) {
  j = {{"name", m.name},
       {"value", m.value},  // NaN becomes null
       {"dataset_id", opt(m.dataset_id)},
       {"dataset", m.dataset},
       {"split", m.split}};
}

void to_json(json& j, const LayerResult& r) {
  j = {{"layer", r.layer}};
  for (const auto& f : layer_result_fields()) j[f.name] = f.get(r);
}

void to_json(json& j, const StatArray& a) {
  j = {{"dtype", array_dtype_name(a.dtype)}, {"shape", a.shape}, {"data", a.to_doubles()}};
}

void to_json(json& j, const LayerStats& s) {
  j = {{"point", s.point}, {"layer", s.layer}};
  for (const auto& [k, v] : layer_stats_numbers(s)) j[k] = v;
  j["extra"] = s.extra;
  if (!s.arrays.empty()) {
    j["arrays"] = json::object();
    for (const auto& [name, a] : s.arrays) j["arrays"][name] = a;
  } else {
    j["array_names"] = s.array_names;
  }
}

void to_json(json& j, const Artifact& a) {
  j = {{"path", a.path}, {"kind", a.kind}, {"sha256", a.sha256}, {"bytes", a.bytes}};
}

void to_json(json& j, const ExperimentDetail& d) {
  j = d.summary;
  j["model_record"] = d.model ? json(*d.model) : json(nullptr);
  j["recipe"] = d.recipe;
  j["datasets"] = json::array();
  for (const auto& ds : d.datasets) {
    json x = ds.dataset;
    x["role"] = ds.role;
    j["datasets"].push_back(x);
  }
  j["quench_version"] = d.quench_version;
  j["torch_version"] = d.torch_version;
  j["metrics"] = d.metrics;
  j["layers"] = d.layers;
  j["stats"] = d.stats;
  j["artifacts"] = d.artifacts;
}

void to_json(json& j, const Comparison& c) {
  j = {{"experiments", c.experiments}, {"metrics", json::array()}, {"layers", json::array()},
       {"layers_total", c.layers_total}};
  for (const auto& m : c.metrics) {
    json row = {{"name", m.name}, {"dataset", m.dataset}, {"split", m.split}, {"values", json::array()},
                {"deltas", json::array()}};
    for (size_t i = 0; i < m.values.size(); ++i) {
      row["values"].push_back(opt(m.values[i]));
      row["deltas"].push_back(opt(m.delta(i)));
    }
    j["metrics"].push_back(row);
  }
  for (const auto& l : c.layers) {
    json row = {{"layer", l.layer}, {"differing", l.differing}, {"results", json::array()}};
    for (const auto& r : l.results) row["results"].push_back(r ? json(*r) : json(nullptr));
    j["layers"].push_back(row);
  }
}

std::string csv_header() { return "experiment_id,experiment,section,item,dataset,split,field,value\n"; }

std::string to_csv_rows(const ExperimentDetail& d) {
  std::ostringstream os;
  const std::string prefix = std::to_string(d.summary.id) + "," + csv_field(d.summary.name) + ",";
  auto row = [&](const std::string& section, const std::string& item, const std::string& dataset, const std::string& split,
                 const std::string& field, const json& value) {
    os << prefix << section << "," << csv_field(item) << "," << csv_field(dataset) << "," << csv_field(split) << ","
       << csv_field(field) << "," << csv_field(csv_value(value)) << "\n";
  };
  const json summary = d.summary;
  for (const char* k : {"kind", "status", "model", "architecture", "started_at", "finished_at", "device", "parent_id",
                        "notes", "error"})
    row("experiment", "", "", "", k, summary[k]);
  std::string tags;
  for (const auto& t : d.summary.tags) tags += (tags.empty() ? "" : ";") + t;
  row("experiment", "", "", "", "tags", tags);
  row("experiment", "", "", "", "recipe", d.recipe.dump());
  row("experiment", "", "", "", "quench_version", d.quench_version);
  row("experiment", "", "", "", "torch_version", d.torch_version);
  for (const auto& ds : d.datasets) row("dataset", ds.dataset.path, ds.dataset.path, "", "role", ds.role);
  for (const auto& m : d.metrics) row("metric", m.name, m.dataset, m.split, "value", json(m.value));
  for (const auto& l : d.layers)
    for (const auto& f : layer_result_fields()) {
      const json v = f.get(l);
      row("layer", l.layer, "", "", f.name, v.is_object() ? json(v.dump()) : v);
    }
  for (const auto& s : d.stats) {
    row("stats", s.point, "", "", "layer", s.layer);
    for (const auto& [k, v] : layer_stats_numbers(s)) row("stats", s.point, "", "", k, v);
    for (auto it = s.extra.begin(); it != s.extra.end(); ++it)
      row("stats", s.point, "", "", it.key(), it.value().is_primitive() ? it.value() : json(it.value().dump()));
  }
  for (const auto& a : d.artifacts) {
    row("artifact", a.path, "", "", "kind", a.kind);
    row("artifact", a.path, "", "", "sha256", a.sha256);
    row("artifact", a.path, "", "", "bytes", a.bytes);
  }
  return os.str();
}

}  // namespace quench
