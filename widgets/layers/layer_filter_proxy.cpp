#include "widgets/layers/layer_filter_proxy.h"

#include "core/stats/point_pattern.h"
#include "widgets/layers/layer_table_model.h"

namespace quench::gui {

LayerFilterProxy::LayerFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
  setSortRole(LayerTableModel::SortRole);
  setFilterKeyColumn(LayerTableModel::NameColumn);
}

void LayerFilterProxy::setGlob(const QString& text) {
  glob_ = text;
  patterns_.clear();
  for (QString p : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    p = p.trimmed();
    if (p.isEmpty()) continue;
    if (!p.contains(QLatin1Char('*')) && !p.contains(QLatin1Char('?'))) p = QLatin1Char('*') + p + QLatin1Char('*');
    patterns_.push_back(p.toStdString());
  }
  invalidateFilter();
}

bool LayerFilterProxy::filterAcceptsRow(int source_row, const QModelIndex& source_parent) const {
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
