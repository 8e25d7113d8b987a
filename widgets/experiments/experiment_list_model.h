#pragma once
// The experiments in the store as a table: id, name, kind, status, model, start time, headline
// metrics, notes. Name and notes are edited in place (stored at once: rename, set_notes).
// Reads through the Store the panel owns, on the UI thread: every query is a short read.
#include <QAbstractTableModel>

#include <optional>
#include <vector>

#include "core/store/records.h"

namespace quench {
class Store;
}

namespace quench::gui {

class ExperimentListModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { IdColumn, NameColumn, KindColumn, StatusColumn, ModelColumn, StartedColumn, QualityColumn, SizeColumn, TagsColumn, NotesColumn, ColumnCount };
  static constexpr int SortRole = Qt::UserRole;
  static constexpr int IdRole = Qt::UserRole + 1;

  using QAbstractTableModel::QAbstractTableModel;

  // nullptr: no store (the list is empty).
  void setStore(Store* store);
  // Re-reads the list; throws quench::Error from the store.
  void reload();

  const ExperimentSummary& summary(int row) const { return rows_.at(static_cast<size_t>(row)).summary; }
  int rowOfId(int64_t id) const;  // −1 when not listed

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 Q_SIGNALS:
  // A rename or notes edit the store refused.
  void editFailed(const QString& message);

 private:
  struct Row {
    ExperimentSummary summary;
    QString quality_name;            // "perplexity", "top1", ...
    std::optional<double> quality;   // the run's headline quality metric
    std::optional<double> size_bytes;
  };
  Store* store_ = nullptr;
  std::vector<Row> rows_;
};

}  // namespace quench::gui
