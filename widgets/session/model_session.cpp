#include "widgets/session/model_session.h"

#include "core/store/metrics.h"
#include "core/util/error.h"

namespace quench::gui {

ModelSession::ModelSession(ModelSummary summary, std::shared_ptr<Model> model)
    : summary_(std::move(summary)), model_(std::move(model)), stats_(summary_.layers.size()) {
  for (size_t i = 0; i < summary_.layers.size(); ++i) rows_.emplace(summary_.layers[i].name, static_cast<int>(i));
}

int ModelSession::rowOf(const std::string& layer) const {
  auto it = rows_.find(layer);
  return it == rows_.end() ? -1 : it->second;
}

const WeightStats* ModelSession::weightStats(int row) const {
  if (row < 0 || row >= layerCount()) return nullptr;
  return stats_[static_cast<size_t>(row)].get();
}

void ModelSession::addWeightStats(std::vector<WeightStats> stats) {
  QList<int> rows;
  for (auto& s : stats) {
    const int row = rowOf(s.layer);
    QUENCH_CHECK(row >= 0, summary_.dir.toStdString(), ": weight statistics for '", s.layer,
                 "', which is not a layer of this model");
    auto& slot = stats_[static_cast<size_t>(row)];
    if (!slot) ++stats_count_;
    slot = std::make_unique<WeightStats>(std::move(s));
    rows.push_back(row);
  }
  if (!rows.isEmpty()) Q_EMIT weightStatsAdded(rows);
}

void ModelSession::setRun(Run run, std::vector<LayerResult> results, std::vector<WeightStats> after, std::vector<WeightStats> errors) {
  run_ = std::move(run);
  results_.assign(summary_.layers.size(), std::nullopt);
  after_.clear();
  after_.resize(summary_.layers.size());
  errors_.clear();
  errors_.resize(summary_.layers.size());
  // Rows of other kinds (KV-cache modules, internal points, sensitivity blocks) have no table row.
  for (auto& r : results) {
    const int row = rowOf(r.layer);
    if (row >= 0) results_[static_cast<size_t>(row)] = std::move(r);
  }
  for (auto& s : after) {
    const int row = rowOf(s.layer);
    if (row >= 0) after_[static_cast<size_t>(row)] = std::make_unique<WeightStats>(std::move(s));
  }
  for (auto& s : errors) {
    const int row = rowOf(s.layer);
    if (row >= 0) errors_[static_cast<size_t>(row)] = std::make_unique<WeightStats>(std::move(s));
  }
  Q_EMIT runChanged();
}

const LayerResult* ModelSession::runResult(int row) const {
  if (row < 0 || row >= static_cast<int>(results_.size()) || !results_[static_cast<size_t>(row)]) return nullptr;
  return &*results_[static_cast<size_t>(row)];
}

const WeightStats* ModelSession::errorStats(int row) const {
  if (row < 0 || row >= static_cast<int>(errors_.size())) return nullptr;
  return errors_[static_cast<size_t>(row)].get();
}

const WeightStats* ModelSession::afterStats(int row) const {
  if (row < 0 || row >= static_cast<int>(after_.size())) return nullptr;
  return after_[static_cast<size_t>(row)].get();
}

void ModelSession::setActivations(Run run, std::vector<LayerStats> points) {
  activation_run_ = std::move(run);
  points_.clear();
  point_index_.clear();
  for (auto& p : points) {
    if (p.point.find(':') == std::string::npos) continue;  // a weight row
    point_index_[p.point] = points_.size();
    points_.push_back(std::move(p));
  }
  Q_EMIT activationsChanged();
}

void ModelSession::setSensitivity(Run run, QString metric, const std::vector<LayerResult>& units) {
  sensitivity_run_ = std::move(run);
  sensitivity_metric_ = std::move(metric);
  sensitivity_candidate_.clear();
  sensitivity_units_ = 0;
  sensitivity_.assign(static_cast<size_t>(layerCount()), std::nullopt);
  for (const LayerResult& u : units) {
    const nlohmann::json& st = u.settings;
    if (!st.is_object() || !st.contains("candidate") || !st.contains("sensitivity") || !st["candidate"].is_string()) continue;
    const std::string candidate = st["candidate"].get<std::string>();
    const nlohmann::json& per = st["sensitivity"];
    if (!per.contains(candidate) || !per[candidate].contains("delta") || !per[candidate]["delta"].is_number()) continue;
    LayerSensitivity ls;
    ls.delta = per[candidate]["delta"].get<double>();
    ls.rank = st.contains("rank") && st["rank"].is_number_integer() ? st["rank"].get<int>() : 0;
    ls.unit = u.layer;
    sensitivity_candidate_ = QString::fromStdString(candidate);
    ++sensitivity_units_;
    std::vector<std::string> layers;
    if (st.contains("layers") && st["layers"].is_array())
      for (const auto& l : st["layers"])
        if (l.is_string()) layers.push_back(l.get<std::string>());
    if (layers.empty()) layers.push_back(u.layer);
    for (const auto& l : layers)
      if (const int row = rowOf(l); row >= 0) sensitivity_[static_cast<size_t>(row)] = ls;
  }
  Q_EMIT sensitivityChanged();
}

QString ModelSession::sensitivityDeltaName() const {
  if (sensitivity_metric_ == QLatin1String(metric_names::kPerplexity)) return tr("ΔNLL (nats/token)");
  if (sensitivity_metric_ == QLatin1String(metric_names::kTop1)) return tr("top-1 drop");
  if (sensitivity_metric_ == QLatin1String(metric_names::kKl)) return tr("KL");
  return tr("Δ %1").arg(sensitivity_metric_);
}

const ModelSession::LayerSensitivity* ModelSession::sensitivity(int row) const {
  if (row < 0 || static_cast<size_t>(row) >= sensitivity_.size() || !sensitivity_[static_cast<size_t>(row)]) return nullptr;
  return &*sensitivity_[static_cast<size_t>(row)];
}

void ModelSession::startParent(const QString& dir) {
  parent_dir_ = dir;
  parent_.clear();
  parent_.resize(summary_.layers.size());
  Q_EMIT parentChanged({});
}

void ModelSession::addParentLayers(std::vector<ParentLayer> layers) {
  QList<int> rows;
  for (auto& l : layers) {
    const int row = rowOf(l.diff.layer);
    QUENCH_CHECK(row >= 0 && !parent_.empty(), summary_.dir.toStdString(), ": a float-model comparison for '", l.diff.layer,
                 "', which is not a layer of this model");
    parent_[static_cast<size_t>(row)] = std::make_unique<ParentLayer>(std::move(l));
    rows.push_back(row);
  }
  if (!rows.isEmpty()) Q_EMIT parentChanged(rows);
}

const ModelSession::ParentLayer* ModelSession::parentLayer(int row) const {
  if (row < 0 || row >= static_cast<int>(parent_.size())) return nullptr;
  return parent_[static_cast<size_t>(row)].get();
}

const LayerStats* ModelSession::point(const std::string& name) const {
  auto it = point_index_.find(name);
  return it == point_index_.end() ? nullptr : &points_[it->second];
}

int ModelSession::rowOfPoint(const LayerStats& p) const {
  if (const int row = rowOf(p.layer); row >= 0) return row;
  const std::string prefix = p.layer + ".";
  for (int row = 0; row < layerCount(); ++row)
    if (layer(row).name.rfind(prefix, 0) == 0) return row;
  return -1;
}

const LayerStats* ModelSession::inputStats(int row) const {
  if (row < 0 || row >= layerCount() || points_.empty()) return nullptr;
  return point(layer(row).name + ":input");
}

std::vector<const LayerStats*> ModelSession::pointsOf(int row) const {
  std::vector<const LayerStats*> out;
  if (row < 0 || row >= layerCount()) return out;
  const std::string& name = layer(row).name;
  const size_t dot = name.rfind('.');
  const std::string parent = dot == std::string::npos ? std::string() : name.substr(0, dot);
  for (const auto& p : points_)
    if (p.layer == name) out.push_back(&p);
  // The parent's own points (internals such as a Mamba mixer's scan inputs), not its other layers'.
  if (!parent.empty())
    for (const auto& p : points_)
      if (p.layer == parent) out.push_back(&p);
  return out;
}

}  // namespace quench::gui
