#pragma once
// Keeps one column of a table in place while the others scroll sideways (the layer name next to
// its statistics in a narrow pane): a second view over the same model and selection, showing
// only that column, laid over the table's left edge. The column must be the table's first.
#include <QObject>

class QTableView;

namespace quench::gui {

class FrozenColumn : public QObject {
  Q_OBJECT

 public:
  FrozenColumn(QTableView* table, int column);
  QTableView* view() const { return frozen_; }

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void updateGeometry();
  void showOnlyColumn();

  QTableView* table_;
  QTableView* frozen_;
  int column_;
};

}  // namespace quench::gui
