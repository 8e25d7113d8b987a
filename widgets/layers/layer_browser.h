#pragma once
// The layer table with its glob filter box: the window's way to pick a layer.
#include <QStringList>
#include <QWidget>

class QLabel;
class QLineEdit;
class QTableView;

namespace quench::gui {

class FrozenColumn;
class LayerFilterProxy;
class LayerTableModel;
class ModelSession;

class LayerBrowser : public QWidget {
  Q_OBJECT

 public:
  explicit LayerBrowser(QWidget* parent = nullptr);

  void setSession(const ModelSession* session);
  // Selects and shows a layer by its Hugging Face name, clearing a filter that hides it.
  // Returns false when the model has no such layer.
  bool selectLayer(const QString& name);
  // Selects the top row as the table is sorted now (nothing when the table is empty).
  void selectTop();
  int currentRow() const;  // in the session's layer order; −1 when none
  // The selected layers' names, in table order (several rows: Ctrl/Shift-click, Ctrl+A).
  QStringList selectedLayers() const;
  // The filter's globs when the selection is exactly the rows the filter shows and the filter
  // has a wildcard (so a recipe rule can name the glob instead of listing layers); else empty.
  QString selectionGlob() const;
  void focusFilter();

  LayerTableModel* model() const { return model_; }
  LayerFilterProxy* proxy() const { return proxy_; }
  QTableView* view() const { return view_; }
  QTableView* frozenNames() const;  // the name column that stays while the others scroll
  QLineEdit* filter() const { return filter_; }

 Q_SIGNALS:
  void currentLayerChanged(int row);
  void selectionChanged();

 private:
  void updateCount();

  LayerTableModel* model_;
  LayerFilterProxy* proxy_;
  QLineEdit* filter_;
  QLabel* count_;
  QTableView* view_;
  FrozenColumn* frozen_;
  QMetaObject::Connection run_connection_, parent_connection_, activations_connection_, sensitivity_connection_;
};

}  // namespace quench::gui
