#include "widgets/issues/issues_model.h"

#include <QApplication>
#include <QStyle>

#include <algorithm>

namespace quench::gui {

void IssuesModel::add(const Issue& issue) {
  for (size_t i = 0; i < issues_.size(); ++i) {
    const Issue& e = issues_[i].issue;
    if (e.severity == issue.severity && e.message == issue.message && e.layer == issue.layer) {
      ++issues_[i].count;
      const QModelIndex changed = index(static_cast<int>(i), MessageColumn);
      Q_EMIT dataChanged(changed, changed);
      return;
    }
  }
  const int row = static_cast<int>(issues_.size());
  beginInsertRows({}, row, row);
  issues_.push_back({issue, 1});
  endInsertRows();
  Q_EMIT countsChanged();
}

void IssuesModel::clear() {
  beginResetModel();
  issues_.clear();
  endResetModel();
  Q_EMIT countsChanged();
}

void IssuesModel::clearSource(const QString& source) {
  beginResetModel();
  issues_.erase(std::remove_if(issues_.begin(), issues_.end(), [&](const Entry& e) { return e.issue.source == source; }),
                issues_.end());
  endResetModel();
  Q_EMIT countsChanged();
}

int IssuesModel::count(Issue::Severity s) const {
  return static_cast<int>(std::count_if(issues_.begin(), issues_.end(), [s](const Entry& e) { return e.issue.severity == s; }));
}

int IssuesModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(issues_.size());
}

int IssuesModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant IssuesModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Entry& e = issues_[static_cast<size_t>(index.row())];
  if (role == LayerRole) return e.issue.layer;
  switch (index.column()) {
    case SeverityColumn:
      if (role == Qt::DisplayRole) {
        switch (e.issue.severity) {
          case Issue::Severity::Info: return tr("info");
          case Issue::Severity::Warning: return tr("warning");
          case Issue::Severity::Error: return tr("error");
        }
      }
      if (role == Qt::DecorationRole) {
        const QStyle::StandardPixmap icon = e.issue.severity == Issue::Severity::Error     ? QStyle::SP_MessageBoxCritical
                                            : e.issue.severity == Issue::Severity::Warning ? QStyle::SP_MessageBoxWarning
                                                                                           : QStyle::SP_MessageBoxInformation;
        return QApplication::style()->standardIcon(icon);
      }
      break;
    case MessageColumn:
      if (role == Qt::DisplayRole)
        return e.count > 1 ? tr("%1 (×%2)").arg(e.issue.message).arg(e.count) : e.issue.message;
      if (role == Qt::ToolTipRole) return e.issue.message;
      break;
    case LayerColumn:
      if (role == Qt::DisplayRole) return e.issue.layer;
      if (role == Qt::ToolTipRole && !e.issue.layer.isEmpty()) return tr("Double-click to show this layer");
      break;
  }
  return {};
}

QVariant IssuesModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case SeverityColumn: return tr("Severity");
    case MessageColumn: return tr("Message");
    case LayerColumn: return tr("Layer");
  }
  return {};
}

}  // namespace quench::gui
