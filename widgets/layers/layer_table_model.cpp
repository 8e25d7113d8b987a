#include "widgets/layers/layer_table_model.h"

#include <QFont>

#include <QLocale>

#include <cmath>
#include <limits>

#include "core/compress/plan_text.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/session/model_session.h"
#include "widgets/util/text.h"

namespace quench::gui {

void LayerTableModel::setSession(const ModelSession* session) {
  beginResetModel();
  disconnect(stats_connection_);
  disconnect(run_connection_);
  disconnect(activations_connection_);
  disconnect(sensitivity_connection_);
  disconnect(parent_connection_);
  session_ = session;
  stale_.clear();
  if (session_) {
    stats_connection_ = connect(session_, &ModelSession::weightStatsAdded, this, &LayerTableModel::onStatsAdded);
    run_connection_ = connect(session_, &ModelSession::runChanged, this, [this] {
      stale_.clear();
      columnChanged(ErrorColumn);
    });
    activations_connection_ = connect(session_, &ModelSession::activationsChanged, this, &LayerTableModel::onStatsAdded);
    sensitivity_connection_ = connect(session_, &ModelSession::sensitivityChanged, this, [this] {
      onStatsAdded();
      Q_EMIT headerDataChanged(Qt::Horizontal, SensitivityColumn, SensitivityColumn);
    });
    parent_connection_ = connect(session_, &ModelSession::parentChanged, this, [this] { columnChanged(ErrorColumn); });
  }
  heat_ = {};
  endResetModel();
  if (session_ && (session_->weightStatsCount() > 0 || session_->hasActivations())) onStatsAdded();
}

void LayerTableModel::setRecipe(const RecipeDocument* recipe) {
  if (recipe_) disconnect(recipe_, nullptr, this, nullptr);
  recipe_ = recipe;
  stale_.clear();
  // The error column too: a result whose setting the recipe no longer gives is shown as stale.
  if (recipe_)
    connect(recipe_, &RecipeDocument::changed, this, [this] {
      stale_.clear();
      columnChanged(SettingColumn);
      columnChanged(ErrorColumn);
    });
  columnChanged(SettingColumn);
}

void LayerTableModel::columnChanged(int column) {
  if (rowCount() > 0) Q_EMIT dataChanged(index(0, column), index(rowCount() - 1, column));
}

QVariant LayerTableModel::runData(int row, int column, int role) const {
  if (column == SettingColumn) {
    const LayerPlan* p = recipe_ ? recipe_->layerPlan(row) : nullptr;
    if (!p || p->layer != session_->layer(row).name) return {};
    switch (role) {
      // Kept layers say only that (and whether a rule skips them): the reason is in the tooltip.
      case Qt::DisplayRole:
      case SortRole:
        if (p->compressed()) return QString::fromStdString(setting_text(*p));
        return p->status.find("skip") != std::string::npos ? tr("kept (skip)") : tr("kept");
      case Qt::ToolTipRole: {
        QStringList lines = {QString::fromStdString(setting_text(*p))};
        for (const auto& src : p->sources) lines << tr("from %1").arg(QString::fromStdString(src));
        return lines.join(QLatin1Char('\n'));
      }
      case Qt::ForegroundRole: return p->compressed() ? QVariant() : QVariant(QColor(Qt::gray));
    }
    return {};
  }
  const LayerResult* r = session_->runResult(row);
  if (!r) return parentData(row, role);
  const std::optional<double> sqnr = r->output_sqnr_db ? r->output_sqnr_db : r->weight_sqnr_db;
  // Staleness only for the roles that show it (the view asks for every role of every cell).
  const LayerPlan* now = role == Qt::ForegroundRole || role == Qt::FontRole || role == Qt::ToolTipRole ? stalePlan(row, *r) : nullptr;
  switch (role) {
    case Qt::DisplayRole: return sqnr ? QString::number(*sqnr, 'f', 1) : QString();
    case SortRole: return sqnr ? QVariant(*sqnr) : QVariant();
    case Qt::TextAlignmentRole: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole: return now ? QVariant(QColor(Qt::gray)) : QVariant();
    case Qt::FontRole: {
      if (!now) return {};
      QFont f;
      f.setItalic(true);
      return f;
    }
    case Qt::ToolTipRole: {
      QStringList lines = {tr("run #%1 %2").arg(session_->run().experiment_id).arg(session_->run().name)};
      if (now)
        lines << tr("stale: the run's setting for this layer differs from the recipe's now (%1); run again to measure it")
                     .arg(QString::fromStdString(setting_text(*now)));
      if (r->bits) lines << tr("%1 bits per weight").arg(*r->bits, 0, 'f', 3);
      if (r->weight_sqnr_db) lines << tr("weight SQNR %1 dB, relative MSE %2").arg(*r->weight_sqnr_db, 0, 'f', 2).arg(r->weight_rel_mse.value_or(0), 0, 'g', 3);
      if (r->output_sqnr_db) lines << tr("output SQNR %1 dB, relative MSE %2").arg(*r->output_sqnr_db, 0, 'f', 2).arg(r->output_rel_mse.value_or(0), 0, 'g', 3);
      return lines.join(QLatin1Char('\n'));
    }
  }
  return {};
}

const LayerPlan* LayerTableModel::stalePlan(int row, const LayerResult& r) const {
  const LayerPlan* p = recipe_ ? recipe_->layerPlan(row) : nullptr;
  // Comparing settings builds JSON: once per row until the recipe or the run changes.
  if (stale_.size() != static_cast<size_t>(rowCount())) stale_.assign(static_cast<size_t>(rowCount()), -1);
  signed char& known = stale_[static_cast<size_t>(row)];
  if (known >= 0) return known ? p : nullptr;
  const LayerPlan* result = computeStalePlan(row, r, p);
  known = result ? 1 : 0;
  return result;
}

const LayerPlan* LayerTableModel::computeStalePlan(int row, const LayerResult& r, const LayerPlan* p) const {
  // Only a layer's own row (a calibrated point's or a KV module's row says nothing of its setting).
  if (!p || p->layer != session_->layer(row).name || !r.settings.is_object() || r.kind == "activation" || r.kind == "kv_cache")
    return nullptr;
  // What the run recorded is the plan's JSON plus what it found (details, shapes) and which rules
  // it came from; the setting itself is the rest.
  auto setting = [](nlohmann::json j) {
    for (const char* k : {"details", "structured", "shape", "sources"}) j.erase(k);
    return j;
  };
  return setting(r.settings) == setting(p->to_json()) ? nullptr : p;
}

QVariant LayerTableModel::parentData(int row, int role) const {
  // Without a run on this model, the column shows what compression did against the float model.
  const ModelSession::ParentLayer* p = session_->hasRun() ? nullptr : session_->parentLayer(row);
  if (!p) return {};
  const LayerDiff& d = p->diff;
  switch (role) {
    case Qt::DisplayRole: return d.exact() ? tr("exact") : QString::number(d.sqnr_db(), 'f', 1);
    case SortRole: return d.exact() ? QVariant(std::numeric_limits<double>::infinity()) : QVariant(d.sqnr_db());
    case Qt::TextAlignmentRole: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ToolTipRole: {
      QStringList lines = {tr("against the float model %1").arg(session_->parentDir())};
      if (!d.type.empty()) lines << tr("stored as %1").arg(QString::fromStdString(d.type));
      lines << (d.exact() ? tr("identical weights")
                          : tr("weight SQNR %1 dB, relative MSE %2").arg(d.sqnr_db(), 0, 'f', 2).arg(d.rel_mse(), 0, 'g', 3));
      return lines.join(QLatin1Char('\n'));
    }
  }
  return {};
}

void LayerTableModel::onStatsAdded() {
  // Heat is relative to the whole model, so every coloured cell may change, not only new rows.
  for (int column = AbsmaxColumn; column <= SensitivityColumn; ++column) {
    std::vector<double> values;
    for (int row = 0; row < rowCount(); ++row) {
      const double v = statistic(row, column);
      if (!std::isnan(v)) values.push_back(v);
    }
    heat_[column] = HeatScale(isCount(column) ? HeatScale::Mode::Count : HeatScale::Mode::RatioToMedian, values);
  }
  if (rowCount() > 0) Q_EMIT dataChanged(index(0, AbsmaxColumn), index(rowCount() - 1, SensitivityColumn));
}

QString LayerTableModel::sensitivityTip(int row) const {
  const ModelSession::LayerSensitivity* ls = session_ ? session_->sensitivity(row) : nullptr;
  if (!ls) return session_ && session_->hasSensitivity() ? tr("not measured by sensitivity run #%1").arg(session_->sensitivityRun().experiment_id)
                                                         : tr("no sensitivity run: Run → Sensitivity");
  QString tip = tr("sensitivity run #%1: %2 %3%4 when %5 alone is compressed with %6; rank %7 of %8 (1: the most sensitive)")
                    .arg(session_->sensitivityRun().experiment_id)
                    .arg(session_->sensitivityDeltaName())
                    .arg(ls->delta > 0 ? QStringLiteral("+") : QString())
                    .arg(ls->delta, 0, 'g', 5)
                    .arg(QString::fromStdString(ls->unit))
                    .arg(session_->sensitivityCandidate())
                    .arg(ls->rank)
                    .arg(session_->sensitivityUnits());
  return tip;
}

double LayerTableModel::statistic(int row, int column) const {
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  if (column == SensitivityColumn) {
    const ModelSession::LayerSensitivity* ls = session_ ? session_->sensitivity(row) : nullptr;
    return ls ? ls->delta : kNone;
  }
  if (column >= ActAbsmaxColumn) {
    const LayerStats* a = session_ ? session_->inputStats(row) : nullptr;
    if (!a) return kNone;
    switch (column) {
      case ActAbsmaxColumn: return a->absmax.value_or(kNone);
      case ActP9999Column: return a->p99_99.value_or(kNone);
      case ActOutliersColumn: return a->outliers ? static_cast<double>(*a->outliers) : kNone;
    }
    return kNone;
  }
  const WeightStats* s = session_ ? session_->weightStats(row) : nullptr;
  if (!s) return std::numeric_limits<double>::quiet_NaN();
  switch (column) {
    case AbsmaxColumn: return s->all.absmax;
    case KurtosisColumn: return s->all.kurtosis;
    case OutliersColumn: return static_cast<double>(s->outliers.channels.size());
  }
  return std::numeric_limits<double>::quiet_NaN();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() || !session_ ? 0 : session_->layerCount();
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
  if (!session_ || !index.isValid() || index.row() >= rowCount()) return {};
  const LayerRow& layer = session_->layer(index.row());
  const int column = index.column();
  if (column == SettingColumn || column == ErrorColumn) return runData(index.row(), column, role);
  if (isStatistic(column)) {
    const double v = statistic(index.row(), column);
    const bool known = !std::isnan(v);
    switch (role) {
      case Qt::DisplayRole:
        if (!known) return QString();
        if (isCount(column)) return QString::number(static_cast<qint64>(v));
        if (column == KurtosisColumn) return QString::number(v, 'f', 2);
        if (column == SensitivityColumn) return QStringLiteral("%1%2").arg(v > 0 ? QStringLiteral("+") : QString()).arg(v, 0, 'g', 4);
        return QString::number(v, 'g', 4);
      case SortRole: return known ? QVariant(v) : QVariant();
      case HeatRole: return known ? heat_[column].heat(v) : 0.0;
      case Qt::BackgroundRole: {
        const QColor c = known ? HeatScale::color(heat_[column].heat(v)) : QColor();
        return c.isValid() ? QVariant(c) : QVariant();
      }
      case Qt::ForegroundRole:
        // Heat colours are light-to-red on any theme; keep their text dark enough to read.
        return known && HeatScale::color(heat_[column].heat(v)).isValid() ? QVariant(QColor(Qt::black)) : QVariant();
      case Qt::TextAlignmentRole: return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      case Qt::ToolTipRole:
        if (column == SensitivityColumn) return sensitivityTip(index.row());
        if (!known) return column >= ActAbsmaxColumn ? tr("no activation statistics: Run → Calibrate Activations") : tr("not computed yet");
        if (heat_[column].median() > 0)
          return tr("%1× the model's median (%2)").arg(v / heat_[column].median(), 0, 'f', 2).arg(heat_[column].median(), 0, 'g', 4);
        return {};
    }
    return {};
  }
  switch (role) {
    case Qt::DisplayRole:
      switch (column) {
        case NameColumn: return QString::fromStdString(layer.name);
        case KindColumn: return QString::fromLatin1(kind_name(layer.kind));
        case ShapeColumn: return shapeText(layer.shape);
        case ParametersColumn: return QLocale().toString(static_cast<qlonglong>(layer.parameters));
      }
      break;
    case SortRole:
      switch (column) {
        case NameColumn: return QString::fromStdString(layer.name);
        case KindColumn: return QString::fromLatin1(kind_name(layer.kind));
        case ShapeColumn: {
          qlonglong elements = 1;
          for (int64_t d : layer.shape) elements *= d;
          return elements;
        }
        case ParametersColumn: return static_cast<qlonglong>(layer.parameters);
      }
      break;
    case Qt::ToolTipRole:
      if (column == NameColumn) return QString::fromStdString(layer.name);
      break;
    case Qt::TextAlignmentRole:
      if (column == ParametersColumn) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      break;
  }
  return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal) return {};
  if (role == Qt::InitialSortOrderRole) {
    // A first click shows the likeliest trouble first: the largest statistics, the lowest SQNR;
    // names, kinds, settings and shapes A to Z.
    switch (section) {
      case ParametersColumn:
      case AbsmaxColumn:
      case KurtosisColumn:
      case OutliersColumn:
      case ActAbsmaxColumn:
      case ActP9999Column:
      case ActOutliersColumn:
      case SensitivityColumn: return static_cast<int>(Qt::DescendingOrder);
      default: return static_cast<int>(Qt::AscendingOrder);
    }
  }
  if (role == Qt::DisplayRole) {
    switch (section) {
      case NameColumn: return tr("Layer");
      case KindColumn: return tr("Kind");
      case ShapeColumn: return tr("Shape");
      case ParametersColumn: return tr("Parameters");
      case AbsmaxColumn: return tr("|W| max");
      case KurtosisColumn: return tr("Kurtosis");
      case OutliersColumn: return tr("Outliers");
      case ActAbsmaxColumn: return tr("|X| max");
      case ActP9999Column: return tr("|X| p99.99");
      case ActOutliersColumn: return tr("X outliers");
      case SensitivityColumn:
        return session_ && session_->hasSensitivity() ? tr("%1 (%2)").arg(session_->sensitivityDeltaName(), session_->sensitivityCandidate())
                                                      : tr("Sensitivity");
      case SettingColumn: return tr("Setting");
      case ErrorColumn: return tr("SQNR dB");
    }
  }
  if (role == Qt::ToolTipRole) {
    switch (section) {
      case NameColumn: return tr("Hugging Face module name");
      case ShapeColumn: return tr("Weight shape: [out, in] for Linear, [out, in/groups, kernel…] for Conv, [vocab, dim] for Embedding");
      case AbsmaxColumn: return tr("Largest weight magnitude; colour: relative to the model's median layer");
      case KurtosisColumn: return tr("Pearson kurtosis of the weights: 3 for a normal distribution, more for heavy tails");
      case OutliersColumn:
        return tr("Outlier input channels: those whose absmax exceeds %1× the median channel's").arg(kDefaultOutlierMultiple);
      case SettingColumn: return tr("What the recipe in the Recipe tab gives this layer");
      case ActAbsmaxColumn: return tr("Largest |activation| at the layer's input in the last calibration; colour: relative to the median layer");
      case ActP9999Column: return tr("99.99th percentile of |activation| at the layer's input: the clipping range static quantization would need");
      case ActOutliersColumn:
        return tr("Input channels whose activation absmax exceeds the calibration's outlier multiple × the median channel's");
      case SensitivityColumn:
        return tr("After a sensitivity run: how much the metric got worse when this layer (or its block) alone was compressed "
                  "with the first candidate; the largest on top when sorted. Colour: relative to the median layer");
      case ErrorColumn:
        return tr("After the last run: the layer's output SQNR in dB on calibration inputs (its weight SQNR when the output "
                  "was not measured); with no run but a float model to compare with (Model → Compare with Float Model): "
                  "the weight SQNR against it. Higher is better");
    }
  }
  return {};
}

}  // namespace quench::gui
