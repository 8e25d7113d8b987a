#pragma once
// The experiment store, browsed: every run as a row (sort by any column, filter by text, kind and
// model), rename and notes in place, delete, open one (its recipe goes to the recipe editor and its
// per-layer results to the layer table), and compare two or more. The list follows the store: it
// re-reads when another connection (a job, quench-cli) commits.
#include <QWidget>

#include <memory>
#include <optional>

#include "core/store/records.h"

class QPushButton;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class QTimer;

namespace quench {
class Store;
}

namespace quench::gui {

class ExperimentListModel;

class ExperimentsPanel : public QWidget {
  Q_OBJECT

 public:
  explicit ExperimentsPanel(QWidget* parent = nullptr);
  ~ExperimentsPanel() override;

  // Opens the store at `path` (creating it when missing). Errors show in the panel, and go to
  // storeFailed.
  void setDatabase(const QString& path);
  Store* store() const { return store_.get(); }
  // Restricts the list to runs of this model folder when "this model only" is ticked.
  void setModelPath(const QString& dir);
  // Re-reads the list now.
  void reload();

  // Rows selected in the list, as experiment ids, in list order.
  QList<int64_t> selectedIds() const;
  bool selectId(int64_t id, bool add = false);

  void openSelected();
  void compareSelected();
  // The one selected run's detail window (compareRequested with its id).
  void showDetails();
  // Deletes the selected runs; confirm: ask first (non-modal).
  void removeSelected(bool confirm = true);

  ExperimentListModel* model() const { return model_; }
  QTableView* view() const { return view_; }
  QLineEdit* filter() const { return filter_; }

 Q_SIGNALS:
  void openRequested(const quench::ExperimentDetail& detail);
  void compareRequested(const QList<int64_t>& ids);
  void storeFailed(const QString& message);

 private:
  void poll();
  void updateButtons();
  void fail(const QString& message);

  std::unique_ptr<Store> store_;
  int64_t data_version_ = -1;
  QString model_path_;
  ExperimentListModel* model_;
  QSortFilterProxyModel* proxy_;
  QLineEdit* filter_;
  QComboBox* kind_;
  QCheckBox* this_model_;
  QTableView* view_;
  QLabel* status_;
  QTimer* poll_;
  QPushButton* open_;
  QPushButton* compare_;
  QPushButton* details_;
  QPushButton* remove_;
};

}  // namespace quench::gui
