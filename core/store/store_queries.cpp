// Store's read side: listing, details, comparison, metric series and export. Each public query
// reads inside one transaction, so a run being recorded meanwhile is seen whole at one point.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <variant>

#include "core/store/record_json.h"
#include "core/store/store.h"
#include "core/util/error.h"

namespace quench {

namespace {
// Columns of an experiment summary; summary_from() reads them in this order.
const char* kSummarySelect =
    "SELECT e.id, e.name, e.kind, e.status, e.model_id, COALESCE(m.path, ''), COALESCE(m.architecture, ''), "
    "e.started_at, e.updated_at, e.finished_at, e.device, e.parent_id, e.notes, COALESCE(e.error, ''), "
    "(SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM experiment_tags t WHERE t.experiment_id = e.id ORDER BY tag)) "
    "FROM experiments e LEFT JOIN models m ON m.id = e.model_id ";

// A kind this build does not know (a newer Quench wrote the row) names the experiment.
RunKind stored_kind(const std::string& kind, int64_t id) {
  try {
    return parse_run_kind(kind);
  } catch (const UsageError& e) {
    fail("experiment #", id, ": ", e.what());
  }
}

ExperimentSummary summary_from(const sqlite::Stmt& s) {
  ExperimentSummary e;
  e.id = s.col_int(0);
  e.name = s.col_text(1);
  e.kind = stored_kind(s.col_text(2), e.id);
  e.status = parse_status(s.col_text(3));
  e.model_id = s.col_opt_int(4);
  e.model_path = s.col_text(5);
  e.model_architecture = s.col_text(6);
  e.started_at = s.col_text(7);
  e.updated_at = s.col_text(8);
  e.finished_at = s.col_opt_text(9);
  e.device = s.col_text(10);
  e.parent_id = s.col_opt_int(11);
  e.notes = s.col_text(12);
  e.error = s.col_text(13);
  const std::string tags = s.col_text(14);
  for (size_t at = 0; at < tags.size();) {
    const size_t end = std::min(tags.find('\x1f', at), tags.size());
    e.tags.push_back(tags.substr(at, end - at));
    at = end + 1;
  }
  return e;
}

nlohmann::json parse_json_column(const std::string& text, const std::string& path, int64_t id, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": experiment ", id, ": stored ", what, " is not valid JSON (", e.what(), ")");
  }
}

ModelRecord model_from(const sqlite::Stmt& s) {
  ModelRecord m;
  m.id = s.col_int(0);
  m.path = s.col_text(1);
  m.architecture = s.col_text(2);
  m.content_hash = s.col_text(3);
  m.parameters = s.col_int(4);
  m.bytes = s.col_int(5);
  m.dtype = s.col_text(6);
  return m;
}

DatasetRecord dataset_from(const sqlite::Stmt& s) {
  DatasetRecord d;
  d.id = s.col_int(0);
  d.path = s.col_text(1);
  d.kind = s.col_text(2);
  d.content_hash = s.col_text(3);
  d.bytes = s.col_int(4);
  d.samples = s.col_opt_int(5);
  return d;
}

const char* kModelSelect = "SELECT id, path, architecture, content_hash, parameters, bytes, dtype FROM models ";
const char* kDatasetSelect = "SELECT d.id, d.path, d.kind, d.content_hash, d.bytes, d.samples FROM datasets d ";  // dataset_from
}  // namespace

std::vector<ModelRecord> Store::models() const {
  std::vector<ModelRecord> out;
  auto s = db_.prepare(std::string(kModelSelect) + "ORDER BY path, id");
  while (s.step()) out.push_back(model_from(s));
  return out;
}

ModelRecord Store::model(int64_t id) const {
  auto s = db_.prepare(std::string(kModelSelect) + "WHERE id = ?1");
  s.bind(1, id);
  QUENCH_CHECK(s.step(), path(), ": no model with id ", id);
  return model_from(s);
}

DatasetRecord Store::dataset(int64_t id) const {
  auto s = db_.prepare(std::string(kDatasetSelect) + "WHERE d.id = ?1");
  s.bind(1, id);
  QUENCH_CHECK(s.step(), path(), ": no dataset with id ", id);
  return dataset_from(s);
}

std::vector<ExperimentSummary> Store::list(const ListFilter& f) const {
  std::string where;
  std::vector<std::variant<int64_t, std::string>> args;  // bound in order, as ?1, ?2, ...
  auto add = [&](const std::string& clause, std::variant<int64_t, std::string> arg) {
    args.push_back(std::move(arg));
    const std::string n = "?" + std::to_string(args.size());
    std::string c = clause;
    for (size_t p; (p = c.find("?#")) != std::string::npos;) c.replace(p, 2, n);
    where += (where.empty() ? "WHERE " : " AND ") + c;
  };
  if (f.model_id) add("e.model_id = ?#", *f.model_id);
  if (!f.model.empty()) add("(instr(m.path, ?#) > 0 OR instr(m.architecture, ?#) > 0)", f.model);
  if (f.kind) add("e.kind = ?#", std::string(run_kind_name(*f.kind)));
  if (f.status) add("e.status = ?#", std::string(status_name(*f.status)));
  if (!f.tag.empty()) add("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.experiment_id = e.id AND t.tag = ?#)", f.tag);
  if (!f.since.empty()) add("e.started_at >= ?#", f.since);
  if (!f.until.empty()) add("e.started_at < ?#", f.until);
  if (!f.text.empty()) add("(instr(lower(e.name), lower(?#)) > 0 OR instr(lower(e.notes), lower(?#)) > 0)", f.text);
  std::string order;
  switch (f.order) {
    case ListFilter::Order::Newest: order = "e.started_at DESC, e.id DESC"; break;
    case ListFilter::Order::Oldest: order = "e.started_at, e.id"; break;
    case ListFilter::Order::Name: order = "e.name COLLATE NOCASE, e.id"; break;
    case ListFilter::Order::Kind: order = "e.kind, e.started_at DESC, e.id DESC"; break;
    case ListFilter::Order::Status: order = "e.status, e.started_at DESC, e.id DESC"; break;
    case ListFilter::Order::Model: order = "m.path, e.started_at DESC, e.id DESC"; break;
  }
  std::string sql = std::string(kSummarySelect) + where + " ORDER BY " + order;
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  auto s = db_.prepare(sql);
  for (size_t i = 0; i < args.size(); ++i) std::visit([&](const auto& v) { s.bind(static_cast<int>(i + 1), v); }, args[i]);
  std::vector<ExperimentSummary> out;
  while (s.step()) out.push_back(summary_from(s));
  return out;
}

ExperimentDetail Store::get(int64_t id, bool with_arrays) const {
  sqlite::Transaction tx(db_, /*immediate=*/false);
  auto d = detail_in_transaction(id, with_arrays);
  tx.commit();
  return d;
}

ExperimentDetail Store::detail_in_transaction(int64_t id, bool with_arrays) const {
  ExperimentDetail d;
  {
    auto s = db_.prepare(std::string(kSummarySelect) + "WHERE e.id = ?1");
    s.bind(1, id);
    QUENCH_CHECK(s.step(), path(), ": no experiment with id ", id);
    d.summary = summary_from(s);
  }
  {
    auto s = db_.prepare("SELECT recipe, quench_version, torch_version FROM experiments WHERE id = ?1");
    s.bind(1, id);
    s.step();
    d.recipe = parse_json_column(s.col_text(0), path(), id, "recipe");
    d.quench_version = s.col_text(1);
    d.torch_version = s.col_text(2);
  }
  if (d.summary.model_id) d.model = model(*d.summary.model_id);
  {
    auto s = db_.prepare(
        "SELECT d.id, d.path, d.kind, d.content_hash, d.bytes, d.samples, ed.role FROM datasets d "
        "JOIN experiment_datasets ed ON ed.dataset_id = d.id WHERE ed.experiment_id = ?1 ORDER BY ed.role, d.path");
    s.bind(1, id);
    while (s.step()) d.datasets.push_back({dataset_from(s), s.col_text(6)});
  }
  {
    auto s = db_.prepare(
        "SELECT mt.name, mt.value, mt.dataset_id, mt.split, COALESCE(ds.path, '') FROM metrics mt "
        "LEFT JOIN datasets ds ON ds.id = mt.dataset_id WHERE mt.experiment_id = ?1 ORDER BY mt.id");
    s.bind(1, id);
    while (s.step()) d.metrics.push_back({s.col_text(0), s.col_double(1), s.col_opt_int(2), s.col_text(3), s.col_text(4)});
  }
  {
    auto s = db_.prepare(
        "SELECT layer, kind, settings, bits, params_before, params_after, sparsity, rank, weight_rel_mse, weight_sqnr_db, "
        "output_rel_mse, output_sqnr_db FROM layer_results WHERE experiment_id = ?1 ORDER BY id");
    s.bind(1, id);
    while (s.step()) {
      LayerResult r;
      r.layer = s.col_text(0);
      r.kind = s.col_text(1);
      r.settings = parse_json_column(s.col_text(2), path(), id, ("settings of layer " + r.layer).c_str());
      r.bits = s.col_opt_double(3);
      r.params_before = s.col_opt_int(4);
      r.params_after = s.col_opt_int(5);
      r.sparsity = s.col_opt_double(6);
      r.rank = s.col_opt_int(7);
      r.weight_rel_mse = s.col_opt_double(8);
      r.weight_sqnr_db = s.col_opt_double(9);
      r.output_rel_mse = s.col_opt_double(10);
      r.output_sqnr_db = s.col_opt_double(11);
      d.layers.push_back(std::move(r));
    }
  }
  {
    auto s = db_.prepare(
        "SELECT id, point, layer, numel, min_value, max_value, absmax, mean, std, p99_99, kurtosis, outliers, extra "
        "FROM layer_stats WHERE experiment_id = ?1 ORDER BY id");
    s.bind(1, id);
    auto arrays = db_.prepare("SELECT name, data FROM stat_arrays WHERE stats_id = ?1 ORDER BY name");
    while (s.step()) {
      LayerStats st;
      st.point = s.col_text(1);
      st.layer = s.col_text(2);
      st.numel = s.col_opt_int(3);
      st.min = s.col_opt_double(4);
      st.max = s.col_opt_double(5);
      st.absmax = s.col_opt_double(6);
      st.mean = s.col_opt_double(7);
      st.std = s.col_opt_double(8);
      st.p99_99 = s.col_opt_double(9);
      st.kurtosis = s.col_opt_double(10);
      st.outliers = s.col_opt_int(11);
      st.extra = parse_json_column(s.col_text(12), path(), id, ("extra statistics of " + st.point).c_str());
      arrays.bind(1, s.col_int(0));
      while (arrays.step()) {
        const std::string name = arrays.col_text(0);
        st.array_names.push_back(name);
        if (with_arrays)
          st.arrays[name] = decode_array(arrays.col_blob(1), path() + ": experiment " + std::to_string(id) + ", point " +
                                                                   st.point + ", array " + name);
      }
      arrays.reset();
      d.stats.push_back(std::move(st));
    }
  }
  {
    auto s = db_.prepare("SELECT path, kind, sha256, bytes FROM artifacts WHERE experiment_id = ?1 ORDER BY id");
    s.bind(1, id);
    while (s.step()) d.artifacts.push_back({s.col_text(0), s.col_text(1), s.col_text(2), s.col_int(3)});
  }
  return d;
}

std::map<std::string, StatArray> Store::stat_arrays(int64_t experiment_id, const std::string& point) const {
  auto s = db_.prepare(
      "SELECT a.name, a.data FROM stat_arrays a JOIN layer_stats st ON st.id = a.stats_id "
      "WHERE st.experiment_id = ?1 AND st.point = ?2 ORDER BY a.name");
  s.bind(1, experiment_id).bind(2, point);
  std::map<std::string, StatArray> out;
  while (s.step())
    out[s.col_text(0)] = decode_array(s.col_blob(1), path() + ": experiment " + std::to_string(experiment_id) + ", point " +
                                                         point + ", array " + s.col_text(0));
  return out;
}

Comparison Store::compare(const std::vector<int64_t>& ids) const {
  QUENCH_CHECK(!ids.empty(), path(), ": nothing to compare");
  sqlite::Transaction tx(db_, /*immediate=*/false);
  std::vector<ExperimentDetail> runs;
  for (auto id : ids) runs.push_back(detail_in_transaction(id, false));
  tx.commit();
  return compare_experiments(runs);
}

std::vector<MetricPoint> Store::metric_points(int64_t model_id, const std::string& x_metric,
                                              const std::string& y_metric) const {
  auto s = db_.prepare(
      "SELECT e.id, e.name, e.kind, x.value, y.value, COALESCE(ds.path, ''), y.split FROM experiments e "
      "JOIN metrics x ON x.experiment_id = e.id AND x.name = ?2 "
      "JOIN metrics y ON y.experiment_id = e.id AND y.name = ?3 "
      "LEFT JOIN datasets ds ON ds.id = y.dataset_id "
      "WHERE e.model_id = ?1 AND e.status = 'completed' AND x.value IS NOT NULL AND y.value IS NOT NULL "
      "ORDER BY x.value, e.id");
  s.bind(1, model_id).bind(2, x_metric).bind(3, y_metric);
  std::vector<MetricPoint> out;
  while (s.step())
    out.push_back({s.col_int(0), s.col_text(1), stored_kind(s.col_text(2), s.col_int(0)), s.col_double(3), s.col_double(4), s.col_text(5), s.col_text(6)});
  return out;
}

nlohmann::json Store::export_json(int64_t id) const {
  nlohmann::json j = get(id, /*with_arrays=*/true);
  j["quench_export"] = 1;  // version of this document's layout
  return j;
}

std::string Store::export_csv(int64_t id) const { return csv_header() + to_csv_rows(get(id)); }

}  // namespace quench
