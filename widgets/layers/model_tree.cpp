#include "widgets/layers/model_tree.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <cmath>
#include <functional>
#include <map>

#include "widgets/layers/layer_table_model.h"

namespace quench::gui {

namespace {
constexpr int kNameRole = Qt::UserRole;        // the module's full name
constexpr int kRowRole = Qt::UserRole + 1;     // the layer's row in the table model; −1 for a module
constexpr int kValueColumn = 1;

// The columns worth colouring by: the ones with numbers.
bool colourable(int column) {
  return column == LayerTableModel::ErrorColumn || column == LayerTableModel::ParametersColumn || column >= LayerTableModel::AbsmaxColumn;
}
}  // namespace

ModelTree::ModelTree(LayerTableModel& table, QWidget* parent)
    : QWidget(parent), table_(table), colour_by_(new QComboBox(this)), tree_(new QTreeWidget(this)) {
  setObjectName(QStringLiteral("modelTree"));
  colour_by_->setObjectName(QStringLiteral("colourBy"));
  for (int c = 0; c < LayerTableModel::ColumnCount; ++c)
    if (colourable(c)) colour_by_->addItem(table.headerData(c, Qt::Horizontal, Qt::DisplayRole).toString(), c);
  colour_by_->setCurrentIndex(colour_by_->findData(static_cast<int>(LayerTableModel::KurtosisColumn)));
  colour_by_->setToolTip(tr("The layer table's column that colours the tree; a module shows the largest value of its layers"));
  tree_->setObjectName(QStringLiteral("modelTreeView"));
  tree_->setColumnCount(2);
  tree_->setHeaderLabels({tr("Module"), colour_by_->currentText()});
  tree_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
  tree_->header()->setSectionResizeMode(kValueColumn, QHeaderView::ResizeToContents);
  tree_->header()->setStretchLastSection(false);
  tree_->setUniformRowHeights(true);
  tree_->setSelectionMode(QAbstractItemView::SingleSelection);

  auto* top = new QHBoxLayout();
  top->addWidget(new QLabel(tr("Colour by"), this));
  top->addWidget(colour_by_, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(tree_, 1);

  connect(colour_by_, &QComboBox::currentIndexChanged, this, &ModelTree::recolour);
  connect(&table_, &QAbstractItemModel::modelReset, this, &ModelTree::rebuild);
  connect(&table_, &QAbstractItemModel::dataChanged, this, &ModelTree::recolour);
  connect(tree_, &QTreeWidget::itemClicked, this, [this](QTreeWidgetItem* item) {
    if (!rebuilding_ && item->data(0, kRowRole).toInt() >= 0) Q_EMIT layerClicked(item->data(0, kNameRole).toString());
  });
  connect(tree_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
    if (item->data(0, kRowRole).toInt() >= 0) Q_EMIT layerActivated(item->data(0, kNameRole).toString());
  });
  rebuild();
}

void ModelTree::setColourColumn(int column) {
  const int i = colour_by_->findData(column);
  if (i >= 0) colour_by_->setCurrentIndex(i);
}

int ModelTree::colourColumn() const { return colour_by_->currentData().toInt(); }

QTreeWidgetItem* ModelTree::item(const QString& name) const {
  std::function<QTreeWidgetItem*(QTreeWidgetItem*)> find = [&](QTreeWidgetItem* it) -> QTreeWidgetItem* {
    if (it->data(0, kNameRole).toString() == name) return it;
    for (int i = 0; i < it->childCount(); ++i)
      if (QTreeWidgetItem* hit = find(it->child(i))) return hit;
    return nullptr;
  };
  for (int i = 0; i < tree_->topLevelItemCount(); ++i)
    if (QTreeWidgetItem* hit = find(tree_->topLevelItem(i))) return hit;
  return nullptr;
}

void ModelTree::setCurrentLayer(const QString& name) {
  QTreeWidgetItem* it = item(name);
  if (!it || tree_->currentItem() == it) return;
  rebuilding_ = true;  // no layerClicked back
  tree_->setCurrentItem(it);
  tree_->scrollToItem(it);
  rebuilding_ = false;
}

// The module path of every layer, split at dots; a chain of modules with one child each
// ("model" → "layers") reads as one node ("model.layers").
void ModelTree::rebuild() {
  rebuilding_ = true;
  tree_->clear();
  std::map<QString, QTreeWidgetItem*> modules;
  for (int row = 0; row < table_.rowCount(); ++row) {
    const QString name = table_.index(row, LayerTableModel::NameColumn).data().toString();
    const QStringList parts = name.split(QLatin1Char('.'));
    QTreeWidgetItem* parent = nullptr;
    QString path;
    for (int i = 0; i < parts.size(); ++i) {
      path = path.isEmpty() ? parts[i] : path + QLatin1Char('.') + parts[i];
      const bool leaf = i + 1 == parts.size();
      auto it = modules.find(path);
      QTreeWidgetItem* node = it == modules.end() ? nullptr : it->second;
      if (!node || leaf) {
        node = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(tree_);
        node->setText(0, parts[i]);
        node->setData(0, kNameRole, path);
        node->setData(0, kRowRole, leaf ? row : -1);
        node->setToolTip(0, path);
        if (!leaf) modules[path] = node;
      }
      parent = node;
    }
  }
  // Merge single-child module chains into one node.
  std::function<void(QTreeWidgetItem*)> merge = [&](QTreeWidgetItem* it) {
    while (it->data(0, kRowRole).toInt() < 0 && it->childCount() == 1 && it->child(0)->data(0, kRowRole).toInt() < 0) {
      QTreeWidgetItem* only = it->takeChild(0);
      it->setText(0, it->text(0) + QLatin1Char('.') + only->text(0));
      it->setData(0, kNameRole, only->data(0, kNameRole));
      it->setToolTip(0, only->toolTip(0));
      it->addChildren(only->takeChildren());
      delete only;
    }
    for (int i = 0; i < it->childCount(); ++i) merge(it->child(i));
  };
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) merge(tree_->topLevelItem(i));
  // Blocks and their first level open; deeper modules (attention, MLP) too when the model is small.
  tree_->expandToDepth(table_.rowCount() <= 64 ? 2 : 0);
  rebuilding_ = false;
  recolour();
}

void ModelTree::recolour() {
  const int column = colourColumn();
  tree_->headerItem()->setText(kValueColumn, colour_by_->currentText());
  // Post-order: a module takes its worst layer's value and colour: the largest statistic, the
  // smallest SQNR.
  const bool low_is_worst = column == LayerTableModel::ErrorColumn;
  std::function<double(QTreeWidgetItem*)> fill = [&](QTreeWidgetItem* it) -> double {
    const int row = it->data(0, kRowRole).toInt();
    if (row >= 0) {
      const QModelIndex index = table_.index(row, column);
      const QVariant sort = index.data(LayerTableModel::SortRole);
      it->setText(kValueColumn, index.data(Qt::DisplayRole).toString());
      const QVariant bg = index.data(Qt::BackgroundRole);
      const QBrush brush = !bg.isValid() ? QBrush() : bg.typeId() == QMetaType::QColor ? QBrush(bg.value<QColor>()) : bg.value<QBrush>();
      const QVariant fg = index.data(Qt::ForegroundRole);  // text readable on the heat colour
      for (int c : {0, kValueColumn}) {
        it->setBackground(c, brush);
        it->setForeground(c, fg.isValid() ? QBrush(fg.value<QColor>()) : QBrush());
      }
      it->setToolTip(kValueColumn, index.data(Qt::ToolTipRole).toString());
      return sort.isValid() && sort.canConvert<double>() ? sort.toDouble() : std::nan("");
    }
    double best = std::nan("");
    QTreeWidgetItem* best_child = nullptr;
    for (int i = 0; i < it->childCount(); ++i) {
      const double v = fill(it->child(i));
      if (!std::isnan(v) && (std::isnan(best) || (low_is_worst ? v < best : v > best))) best = v, best_child = it->child(i);
    }
    it->setText(kValueColumn, best_child ? best_child->text(kValueColumn) : QString());
    for (int c : {0, kValueColumn}) {
      it->setBackground(c, best_child ? best_child->background(kValueColumn) : QBrush());
      it->setForeground(c, best_child ? best_child->foreground(kValueColumn) : QBrush());
    }
    return best;
  };
  for (int i = 0; i < tree_->topLevelItemCount(); ++i) fill(tree_->topLevelItem(i));
}

}  // namespace quench::gui
