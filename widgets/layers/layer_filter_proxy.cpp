#include "widgets/layers/layer_filter_proxy.h"

#include <QRegularExpression>

#include <cmath>

#include "core/stats/point_pattern.h"
#include "widgets/layers/layer_table_model.h"

namespace quench::gui {

LayerFilterProxy::LayerFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(LayerTableModel::SortRole);
  setFilterKeyColumn(LayerTableModel::NameColumn);
}

namespace {
// What a condition may name: the table's numeric columns, by the names people type.
const std::pair<const char*, int> kStatistics[] = {
    {"kurtosis", LayerTableModel::KurtosisColumn},     {"absmax", LayerTableModel::AbsmaxColumn},
    {"|w|", LayerTableModel::AbsmaxColumn},             {"outliers", LayerTableModel::OutliersColumn},
    {"x_absmax", LayerTableModel::ActAbsmaxColumn},     {"|x|", LayerTableModel::ActAbsmaxColumn},
    {"x_p99.99", LayerTableModel::ActP9999Column},      {"x_outliers", LayerTableModel::ActOutliersColumn},
    {"sqnr", LayerTableModel::ErrorColumn},             {"sensitivity", LayerTableModel::SensitivityColumn},
    {"parameters", LayerTableModel::ParametersColumn},
    {"params", LayerTableModel::ParametersColumn}};
}  // namespace

QString LayerFilterProxy::statisticNames() {
  QStringList names;
  for (const auto& [name, column] : kStatistics) names << QString::fromLatin1(name);
  return names.join(QStringLiteral(", "));
}

void LayerFilterProxy::setGlob(const QString& text) {
  glob_ = text;
  error_.clear();
  patterns_.clear();
  conditions_.clear();
  static const QRegularExpression condition(QStringLiteral(R"(^\s*([A-Za-z_|.0-9]+?)\s*(>=|<=|!=|==|=|>|<)\s*([-+0-9.eE]+)\s*$)"));
  for (QString p : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    p = p.trimmed();
    if (p.isEmpty()) continue;
    if (const auto m = condition.match(p); m.hasMatch()) {
      const QString key = m.captured(1).toLower();
      bool number = false;
      const double value = m.captured(3).toDouble(&number);
      int column = -1;
      for (const auto& [name, c] : kStatistics)
        if (key == QLatin1String(name)) column = c;
      if (column < 0) error_ = tr("unknown statistic \"%1\" (%2)").arg(m.captured(1), statisticNames());
      else if (!number) error_ = tr("\"%1\" is not a number").arg(m.captured(3));
      else conditions_.push_back({column, m.captured(2), value});
      continue;
    }
    if (p.contains(QLatin1Char('<')) || p.contains(QLatin1Char('>')) || p.contains(QLatin1Char('='))) {
      error_ = tr("\"%1\": a condition is a statistic, a comparison and a number, e.g. kurtosis > 5").arg(p);
      continue;
    }
    if (!p.contains(QLatin1Char('*')) && !p.contains(QLatin1Char('?'))) p = QLatin1Char('*') + p + QLatin1Char('*');
    patterns_.push_back(p.toStdString());
  }
  invalidateFilter();
}

bool LayerFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
  // Conditions all hold (a layer without the value fails them), and the name matches any glob.
  for (const Condition& c : conditions_) {
    const QVariant v = sourceModel()->index(source_row, c.column, source_parent).data(LayerTableModel::SortRole);
    bool ok = false;
    const double x = v.toDouble(&ok);
    if (!v.isValid() || !ok || std::isnan(x)) return false;
    const bool holds = c.op == QLatin1String(">")    ? x > c.value
                       : c.op == QLatin1String(">=") ? x >= c.value
                       : c.op == QLatin1String("<")  ? x < c.value
                       : c.op == QLatin1String("<=") ? x <= c.value
                       : c.op == QLatin1String("!=") ? x != c.value
                                                     : x == c.value;
    if (!holds) return false;
  }
  if (patterns_.empty()) return true;
  const std::string name =
      sourceModel()->index(source_row, LayerTableModel::NameColumn, source_parent).data(Qt::DisplayRole).toString().toStdString();
  for (const auto& p : patterns_)
    if (quench::glob_match(p, name)) return true;
  return false;
}

bool LayerFilterProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
  const QVariant l = left.data(sortRole()), r = right.data(sortRole());
  if (!l.isValid() || !r.isValid()) {
    // Invalid compares as "largest" in ascending order and "smallest" in descending, so missing
    // values end up at the bottom of both.
    const bool ascending = sortOrder() == Qt::AscendingOrder;
    if (l.isValid() == r.isValid()) return false;
    return ascending ? l.isValid() : !l.isValid();
  }
  return QSortFilterProxyModel::lessThan(left, right);
}

}  // namespace quench::gui
