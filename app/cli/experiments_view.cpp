#include "app/cli/experiments_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "app/cli/format.h"
#include "core/store/record_json.h"

namespace quench::cli {

namespace {
std::string base_name(const std::string& path) {
  if (path.empty()) return "";
  const auto name = std::filesystem::path(path).filename().string();
  return name.empty() ? path : name;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// "2026-11-22T19:47:34.123Z" → "2026-11-22 19:47" (still UTC; the header says so).
std::string short_time(const std::string& iso) { return iso.size() >= 16 ? iso.substr(0, 10) + " " + iso.substr(11, 5) : iso; }

std::string duration_of(const ExperimentSummary& e) {
  const auto s = run_seconds(e);
  return s ? format_duration(*s) : "";
}

// A JSON cell: numbers via format_number, strings bare, objects compact, null as "-".
std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_number_float()) return format_number(v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string label(const ExperimentSummary& e) { return "#" + std::to_string(e.id); }

std::string signed_delta(double d, std::optional<double> base) {
  std::string s = (d > 0 ? "+" : "") + format_number(d);
  if (base && *base != 0 && std::isfinite(*base)) {
    const double pct = 100.0 * d / std::fabs(*base);
    s += " (" + std::string(pct > 0 ? "+" : "") + fixed(pct, 1) + "%)";
  }
  return s;
}
}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0)) return "";
  char buf[32];
  if (seconds < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", std::floor(seconds));
  } else if (seconds < 3600) {
    const long s = static_cast<long>(seconds);
    std::snprintf(buf, sizeof buf, "%ldm %02lds", s / 60, s % 60);
  } else {
    const long m = static_cast<long>(seconds) / 60;
    std::snprintf(buf, sizeof buf, "%ldh %02ldm", m / 60, m % 60);
  }
  return buf;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string view_list(const std::vector<ExperimentSummary>& list) {
  Table t({"id", "name", "kind", "status", "model", "started (UTC)", "duration", "tags"},
          {true, false, false, false, false, false, true, false});
  for (const auto& e : list)
    t.add({std::to_string(e.id), e.name, run_kind_name(e.kind), status_name(e.status), base_name(e.model_path), short_time(e.started_at),
           duration_of(e), join(e.tags, ",")});
  return t.str();
}

std::string view_show(const ExperimentDetail& d) {
  const auto& e = d.summary;
  std::ostringstream os;
  auto line = [&](const std::string& key, const std::string& value) {
    if (!value.empty()) os << key << std::string(key.size() < 10 ? 10 - key.size() : 1, ' ') << value << "\n";
  };
  os << "experiment " << e.id << ": " << e.name << "\n";
  line("kind", run_kind_name(e.kind));
  line("status", status_name(e.status));
  if (d.model)
    line("model", d.model->path + " (" + d.model->architecture + ", " + with_commas(d.model->parameters) +
                      " parameters, " + human_bytes(static_cast<uint64_t>(d.model->bytes)) + ")");
  for (const auto& ds : d.datasets) line(ds.role, ds.dataset.path + " (" + ds.dataset.kind + ")");
  line("started", e.started_at);
  if (e.finished_at)
    line("finished", *e.finished_at + " (" + duration_of(e) + ")");
  else
    line("updated", e.updated_at + " (running for " + duration_of(e) + ")");
  line("device", e.device);
  line("versions", "quench " + d.quench_version + ", libtorch " + d.torch_version);
  if (e.parent_id) line("parent", std::to_string(*e.parent_id));
  line("tags", join(e.tags, ", "));
  line("notes", e.notes);
  line("error", e.error);
  if (!d.recipe.empty()) line("recipe", d.recipe.dump());

  if (!d.metrics.empty()) {
    os << "\nmetrics\n";
    Table t({"name", "dataset", "split", "value"}, {false, false, false, true});
    for (const auto& m : d.metrics) t.add({m.name, base_name(m.dataset), m.split, format_number(m.value)});
    os << t.str();
  }
  if (!d.layers.empty()) {
    os << "\nlayers (" << d.layers.size() << ")\n";
    // Only the fields some layer recorded: a quantization run has no ranks, a pruning run no bits.
    std::vector<const LayerResultField*> used;
    for (const auto& f : layer_result_fields())
      if (std::any_of(d.layers.begin(), d.layers.end(), [&](const LayerResult& l) { return !f.get(l).is_null(); }))
        used.push_back(&f);
    std::vector<std::string> header = {"layer"};
    std::vector<bool> right = {false};
    for (const auto* f : used) {
      header.push_back(f->name);
      right.push_back(std::string(f->name) != "kind" && std::string(f->name) != "settings");
    }
    Table t(header, right);
    for (const auto& l : d.layers) {
      std::vector<std::string> row = {l.layer};
      for (const auto* f : used) row.push_back(cell(f->get(l)));
      t.add(row);
    }
    os << t.str();
  }
  if (!d.stats.empty()) {
    os << "\nstatistics (" << d.stats.size() << " points)\n";
    Table t({"point", "absmax", "p99_99", "kurtosis", "outliers", "arrays"}, {false, true, true, true, true, false});
    for (const auto& s : d.stats) {
      nlohmann::json n = nlohmann::json::object();
      for (const auto& [k, v] : layer_stats_numbers(s)) n[k] = v;
      t.add({s.point, cell(n["absmax"]), cell(n["p99_99"]), cell(n["kurtosis"]), cell(n["outliers"]), join(s.array_names, ",")});
    }
    os << t.str();
  }
  if (!d.artifacts.empty()) {
    os << "\nartifacts\n";
    Table t({"kind", "path", "size", "sha256"}, {false, false, true, false});
    for (const auto& a : d.artifacts) t.add({a.kind, a.path, human_bytes(static_cast<uint64_t>(a.bytes)), a.sha256.substr(0, 16)});
    os << t.str();
  }
  return os.str();
}

std::string view_compare(const Comparison& c) {
  std::ostringstream os;
  for (const auto& e : c.experiments)
    os << label(e) << "  " << e.name << " (" << run_kind_name(e.kind) << ", " << status_name(e.status)
       << (e.model_path.empty() ? "" : ", " + base_name(e.model_path)) << ")\n";

  os << "\nmetrics\n";
  if (c.metrics.empty()) {
    os << "(none recorded)\n";
  } else {
    std::vector<std::string> header = {"name", "dataset", "split"};
    for (const auto& e : c.experiments) header.push_back(label(e));
    for (size_t i = 1; i < c.experiments.size(); ++i) header.push_back("delta " + label(c.experiments[i]) + "-" + label(c.experiments[0]));
    std::vector<bool> right(header.size(), true);
    right[0] = right[1] = right[2] = false;
    Table t(header, right);
    for (const auto& m : c.metrics) {
      std::vector<std::string> row = {m.name, base_name(m.dataset), m.split};
      for (const auto& v : m.values) row.push_back(v ? format_number(*v) : "-");
      for (size_t i = 1; i < m.values.size(); ++i) {
        const auto d = m.delta(i);
        row.push_back(d ? signed_delta(*d, m.values[0]) : "-");
      }
      t.add(row);
    }
    os << t.str();
  }

  os << "\nlayers: " << c.layers.size() << " of " << c.layers_total << " differ\n";
  if (!c.layers.empty()) {
    std::vector<std::string> header = {"layer", "field"};
    for (const auto& e : c.experiments) header.push_back(label(e));
    Table t(header);
    for (const auto& l : c.layers) {
      bool first = true;
      if (std::any_of(l.results.begin(), l.results.end(), [](const auto& r) { return !r; })) {
        std::vector<std::string> row = {l.layer, "recorded"};
        for (const auto& r : l.results) row.push_back(r ? "yes" : "(not recorded)");
        t.add(row);
        first = false;
      }
      for (const auto& field : l.differing) {
        std::vector<std::string> row = {first ? l.layer : "", field};
        for (const auto& r : l.results) {
          if (!r) {
            row.push_back("");
            continue;
          }
          for (const auto& f : layer_result_fields())
            if (field == f.name) row.push_back(cell(f.get(*r)));
        }
        t.add(row);
        first = false;
      }
    }
    os << t.str();
  }
  return os.str();
}

}  // namespace quench::cli
