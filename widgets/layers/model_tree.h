#pragma once
// The model as a tree of its modules (model → layers → 3 → self_attn → q_proj), the compressible
// layers as leaves, coloured by any statistic or result of the layer table (kurtosis, |W| max,
// SQNR, input |x| max, sensitivity …). A module shows the largest value below it, so a block that
// holds a troubled layer stands out while collapsed. Clicking a layer selects it everywhere.
#include <QWidget>

class QComboBox;
class QTreeWidget;
class QTreeWidgetItem;

namespace quench::gui {

class LayerTableModel;

class ModelTree : public QWidget {
  Q_OBJECT

 public:
  // Reads names, values and colours from `table`, and follows its changes.
  explicit ModelTree(LayerTableModel& table, QWidget* parent = nullptr);

  // The LayerTableModel column the tree is coloured by.
  void setColourColumn(int column);
  int colourColumn() const;
  // Marks a layer (by Hugging Face name) as the current one, expanding its modules.
  void setCurrentLayer(const QString& name);
  QTreeWidget* tree() const { return tree_; }
  QComboBox* colourBy() const { return colour_by_; }
  // The item of a module or layer by its full name, nullptr when the model has none.
  QTreeWidgetItem* item(const QString& name) const;

 Q_SIGNALS:
  void layerClicked(const QString& name);
  void layerActivated(const QString& name);  // double-click or Enter

 private:
  void rebuild();
  void recolour();

  LayerTableModel& table_;
  QComboBox* colour_by_;
  QTreeWidget* tree_;
  bool rebuilding_ = false;
};

}  // namespace quench::gui
