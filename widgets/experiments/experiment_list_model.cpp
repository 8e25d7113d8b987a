#include "widgets/experiments/experiment_list_model.h"

#include <algorithm>

#include <QFileInfo>
#include <QLocale>

#include <unordered_map>

#include "core/store/metrics.h"
#include "core/store/store.h"

namespace quench::gui {

namespace {
// The metric a run is judged by, in order of preference.
const std::string kQualityMetrics[] = {metric_names::kPerplexity, metric_names::kTop1, metric_names::float_of(metric_names::kPerplexity),
                                       metric_names::float_of(metric_names::kKl), metric_names::float_of(metric_names::kTop1)};
}  // namespace

void ExperimentListModel::setStore(Store* store) {
  store_ = store;
  reload();
}

void ExperimentListModel::reload() {
  std::vector<Row> rows;
  if (store_) {
    // Metrics are read again only for runs that changed since the last reload (a running job
    // commits often; the list must stay cheap to refresh on the UI thread).
    std::unordered_map<int64_t, const Row*> before;
    for (const Row& r : rows_) before.emplace(r.summary.id, &r);
    for (auto& s : store_->list()) {
      Row r;
      auto it = before.find(s.id);
      if (it != before.end() && it->second->summary.updated_at == s.updated_at && it->second->summary.status == s.status) {
        r = *it->second;
        r.summary = std::move(s);
        rows.push_back(std::move(r));
        continue;
      }
      r.summary = std::move(s);
      const ExperimentDetail d = store_->get(r.summary.id);
      for (const std::string& name : kQualityMetrics) {
        for (const auto& m : d.metrics)
          if (m.name == name && !r.quality) {
            r.quality = m.value;
            r.quality_name = QString::fromStdString(name);
          }
        if (r.quality) break;
      }
      for (const auto& m : d.metrics)
        if (m.name == metric_names::kSizeBytes) r.size_bytes = m.value;
      rows.push_back(std::move(r));
    }
  }
  beginResetModel();
  rows_ = std::move(rows);
  endResetModel();
}

int ExperimentListModel::rowOfId(int64_t id) const {
  for (size_t i = 0; i < rows_.size(); ++i)
    if (rows_[i].summary.id == id) return static_cast<int>(i);
  return -1;
}

int ExperimentListModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int ExperimentListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ExperimentListModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Row& r = rows_[static_cast<size_t>(index.row())];
  const ExperimentSummary& s = r.summary;
  if (role == IdRole) return static_cast<qlonglong>(s.id);
  const bool display = role == Qt::DisplayRole || role == Qt::EditRole;
  switch (index.column()) {
    case IdColumn:
      if (display) return QStringLiteral("#%1").arg(s.id);
      if (role == SortRole) return static_cast<qlonglong>(s.id);
      break;
    case NameColumn:
      if (display || role == SortRole) return QString::fromStdString(s.name);
      if (role == Qt::ToolTipRole) return tr("Double-click to rename");
      break;
    case KindColumn:
      if (display || role == SortRole) return QString::fromLatin1(run_kind_name(s.kind));
      break;
    case StatusColumn:
      if (display || role == SortRole) return QString::fromLatin1(status_name(s.status));
      if (role == Qt::ToolTipRole && !s.error.empty()) return QString::fromStdString(s.error);
      if (role == Qt::ForegroundRole && (s.status == RunStatus::Failed || s.status == RunStatus::Interrupted)) return QColor(192, 57, 43);
      break;
    case ModelColumn:
      if (display || role == SortRole) return QFileInfo(QString::fromStdString(s.model_path)).fileName();
      if (role == Qt::ToolTipRole) return QString::fromStdString(s.model_path);
      break;
    case StartedColumn:
      if (display) return QString::fromStdString(s.started_at).left(16).replace(QLatin1Char('T'), QLatin1Char(' '));
      if (role == SortRole) return QString::fromStdString(s.started_at);
      if (role == Qt::ToolTipRole) return tr("UTC");
      break;
    case QualityColumn:
      if (display && r.quality)
        return QStringLiteral("%1 %2").arg(r.quality_name == QLatin1String(metric_names::kPerplexity) ? tr("ppl") : r.quality_name).arg(*r.quality, 0, 'f', 2);
      if (role == Qt::ToolTipRole && r.quality) return QStringLiteral("%1 %2").arg(r.quality_name).arg(*r.quality, 0, 'g', 8);
      if (role == SortRole && r.quality) return *r.quality;
      if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      break;
    case SizeColumn:
      if (display && r.size_bytes) return QLocale().formattedDataSize(static_cast<qint64>(*r.size_bytes));
      if (role == SortRole && r.size_bytes) return *r.size_bytes;
      if (role == Qt::TextAlignmentRole) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      break;
    case TagsColumn: {
      QStringList tags;
      for (const auto& t : s.tags) tags << QString::fromStdString(t);
      if (display || role == SortRole) return tags.join(QStringLiteral(", "));
      if (role == Qt::ToolTipRole) return tags.isEmpty() ? tr("Double-click to add tags, commas between") : tags.join(QStringLiteral(", "));
      break;
    }
    case NotesColumn:
      if (display || role == SortRole) return QString::fromStdString(s.notes);
      if (role == Qt::ToolTipRole) return s.notes.empty() ? tr("Double-click to add notes") : QString::fromStdString(s.notes);
      break;
  }
  return {};
}

bool ExperimentListModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!store_ || !index.isValid() || role != Qt::EditRole) return false;
  Row& r = rows_[static_cast<size_t>(index.row())];
  const std::string text = value.toString().trimmed().toStdString();
  try {
    if (index.column() == NameColumn) {
      if (text.empty() || text == r.summary.name) return false;
      store_->rename(r.summary.id, text);
      r.summary.name = text;
    } else if (index.column() == TagsColumn) {
      // "a, b,,a" → {a, b}: commas between, blanks and repeats dropped; the store checks each.
      std::vector<std::string> tags;
      for (const QString& t : value.toString().split(QLatin1Char(','))) {
        const std::string tag = t.trimmed().toStdString();
        if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
      }
      if (tags == r.summary.tags) return false;
      store_->set_tags(r.summary.id, tags);
      r.summary.tags = tags;
    } else if (index.column() == NotesColumn) {
      if (text == r.summary.notes) return false;
      store_->set_notes(r.summary.id, text);
      r.summary.notes = text;
    } else {
      return false;
    }
  } catch (const std::exception& e) {
    Q_EMIT editFailed(QString::fromStdString(e.what()));
    return false;
  }
  Q_EMIT dataChanged(index, index);
  return true;
}

Qt::ItemFlags ExperimentListModel::flags(const QModelIndex& index) const {
  Qt::ItemFlags f = QAbstractTableModel::flags(index);
  if (index.column() == NameColumn || index.column() == TagsColumn || index.column() == NotesColumn) f |= Qt::ItemIsEditable;
  return f;
}

QVariant ExperimentListModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case IdColumn: return tr("Run");
    case NameColumn: return tr("Name");
    case KindColumn: return tr("Kind");
    case StatusColumn: return tr("Status");
    case ModelColumn: return tr("Model");
    case StartedColumn: return tr("Started (UTC)");
    case QualityColumn: return tr("Quality");
    case SizeColumn: return tr("Size");
    case TagsColumn: return tr("Tags");
    case NotesColumn: return tr("Notes");
  }
  return {};
}

}  // namespace quench::gui
