#include "widgets/layers/frozen_column.h"

#include <QEvent>
#include <QHeaderView>
#include <QScrollBar>
#include <QTableView>

namespace quench::gui {

FrozenColumn::FrozenColumn(QTableView* table, int column) : QObject(table), table_(table), frozen_(new QTableView(table)), column_(column) {
  frozen_->setObjectName(table->objectName() + QStringLiteral("Frozen"));
  frozen_->setModel(table->model());
  frozen_->setSelectionModel(table->selectionModel());  // one selection, one current row
  frozen_->setFocusPolicy(Qt::NoFocus);
  frozen_->setSelectionBehavior(table->selectionBehavior());
  frozen_->setSelectionMode(table->selectionMode());
  frozen_->setAlternatingRowColors(table->alternatingRowColors());
  frozen_->setWordWrap(false);
  frozen_->setTextElideMode(table->textElideMode());
  frozen_->verticalHeader()->setVisible(false);
  frozen_->verticalHeader()->setDefaultSectionSize(table->verticalHeader()->defaultSectionSize());
  frozen_->horizontalHeader()->setSectionResizeMode(QHeaderView::Fixed);
  frozen_->horizontalHeader()->setSortIndicatorShown(true);
  frozen_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  frozen_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  frozen_->setVerticalScrollMode(table->verticalScrollMode());
  frozen_->setStyleSheet(QStringLiteral("QTableView { border: none; }"));
  table_->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);  // columns slide under the frozen one
  table_->viewport()->stackUnder(frozen_);
  showOnlyColumn();

  // Rows scroll together; the frozen column's width follows the table's (the user drags the
  // table's header edge, hidden under this one's, or this one's through the table's).
  connect(frozen_->verticalScrollBar(), &QAbstractSlider::valueChanged, table_->verticalScrollBar(), &QAbstractSlider::setValue);
  connect(table_->verticalScrollBar(), &QAbstractSlider::valueChanged, frozen_->verticalScrollBar(), &QAbstractSlider::setValue);
  connect(table_->horizontalHeader(), &QHeaderView::sectionResized, this, [this](int section, int, int size) {
    if (section != column_) return;
    frozen_->setColumnWidth(column_, size);
    updateGeometry();
  });
  connect(table_->verticalHeader(), &QHeaderView::sectionResized, this, [this](int section, int, int size) { frozen_->setRowHeight(section, size); });
  // Sorting by the frozen column's header sorts the table (both show the one sorted model).
  connect(frozen_->horizontalHeader(), &QHeaderView::sectionClicked, this, [this](int section) {
    if (section != column_ || !table_->isSortingEnabled()) return;
    const QHeaderView* h = table_->horizontalHeader();
    const Qt::SortOrder order = h->sortIndicatorSection() == column_ && h->sortIndicatorOrder() == Qt::AscendingOrder ? Qt::DescendingOrder : Qt::AscendingOrder;
    table_->sortByColumn(column_, order);
  });
  connect(table_->horizontalHeader(), &QHeaderView::sortIndicatorChanged, this, [this](int section, Qt::SortOrder order) {
    frozen_->horizontalHeader()->setSortIndicator(section == column_ ? column_ : -1, order);
  });
  connect(table_->model(), &QAbstractItemModel::modelReset, this, &FrozenColumn::showOnlyColumn);
  connect(table_->model(), &QAbstractItemModel::columnsInserted, this, &FrozenColumn::showOnlyColumn);
  const QHeaderView* header = table_->horizontalHeader();
  frozen_->horizontalHeader()->setSortIndicator(header->sortIndicatorSection() == column_ ? column_ : -1, header->sortIndicatorOrder());
  table_->installEventFilter(this);
  frozen_->setColumnWidth(column_, table_->columnWidth(column_));
  updateGeometry();
  frozen_->show();
}

void FrozenColumn::showOnlyColumn() {
  for (int c = 0; c < frozen_->model()->columnCount(); ++c) frozen_->setColumnHidden(c, c != column_);
  frozen_->setColumnWidth(column_, table_->columnWidth(column_));
}

bool FrozenColumn::eventFilter(QObject* watched, QEvent* event) {
  if (watched == table_ && (event->type() == QEvent::Resize || event->type() == QEvent::LayoutRequest || event->type() == QEvent::Show))
    updateGeometry();
  return QObject::eventFilter(watched, event);
}

void FrozenColumn::updateGeometry() {
  const int frame = table_->frameWidth();
  frozen_->setGeometry(frame + (table_->verticalHeader()->isVisible() ? table_->verticalHeader()->width() : 0), frame,
                       table_->columnWidth(column_), table_->viewport()->height() + table_->horizontalHeader()->height());
}

}  // namespace quench::gui
