#include "widgets/layers/layer_browser.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

#include "widgets/layers/frozen_column.h"
#include "widgets/layers/layer_filter_proxy.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

LayerBrowser::LayerBrowser(QWidget* parent)
    : QWidget(parent), model_(new LayerTableModel(this)), proxy_(new LayerFilterProxy(this)),
      filter_(new QLineEdit(this)), count_(new QLabel(this)), view_(new QTableView(this)) {
  proxy_->setSourceModel(model_);
  filter_->setObjectName(QStringLiteral("layerFilter"));
  filter_->setPlaceholderText(tr("Filter layers: names or globs (* any, ? one character), and conditions such as kurtosis > 5, commas between"));
  filter_->setClearButtonEnabled(true);
  filter_->setToolTip(tr("Globs over layer names (* any text, ? one character; any of them matches) and conditions on the "
                         "statistics, all of which must hold: %1, compared with > >= < <= = != to a number. Ctrl+F")
                          .arg(LayerFilterProxy::statisticNames()));
  view_->setObjectName(QStringLiteral("layerTable"));
  view_->setModel(proxy_);
  view_->setSortingEnabled(true);
  view_->sortByColumn(-1, Qt::AscendingOrder);  // model order (forward order) until the user sorts
  view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  view_->setSelectionMode(QAbstractItemView::ExtendedSelection);  // several rows: the recipe editor edits them at once
  view_->setAlternatingRowColors(true);
  view_->setWordWrap(false);
  view_->verticalHeader()->setVisible(false);
  view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
  view_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  // The name gets the room of the longest layer name (setSession), the last column the rest; the
  // table scrolls sideways when the pane is narrower than all columns.
  view_->horizontalHeader()->setSectionResizeMode(LayerTableModel::NameColumn, QHeaderView::Interactive);
  view_->horizontalHeader()->setStretchLastSection(true);
  view_->setTextElideMode(Qt::ElideLeft);  // the end of a module path says the most
  // The name stays in place while the statistics scroll sideways under a narrow pane.
  frozen_ = new FrozenColumn(view_, LayerTableModel::NameColumn);
  view_->setTextElideMode(Qt::ElideRight);  // the other columns: numbers and shapes read from the left

  auto* top = new QHBoxLayout();
  top->addWidget(filter_, 1);
  top->addWidget(count_);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(top);
  layout->addWidget(view_, 1);

  connect(filter_, &QLineEdit::textChanged, proxy_, &LayerFilterProxy::setGlob);
  connect(filter_, &QLineEdit::textChanged, this, &LayerBrowser::updateCount);  // a term's error shows even when the rows do not change
  connect(proxy_, &QAbstractItemModel::rowsInserted, this, &LayerBrowser::updateCount);
  connect(proxy_, &QAbstractItemModel::rowsRemoved, this, &LayerBrowser::updateCount);
  connect(proxy_, &QAbstractItemModel::modelReset, this, &LayerBrowser::updateCount);
  connect(proxy_, &QAbstractItemModel::layoutChanged, this, &LayerBrowser::updateCount);
  connect(view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex&, const QModelIndex&) { Q_EMIT currentLayerChanged(currentRow()); });
  connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { Q_EMIT selectionChanged(); });
  connect(proxy_, &QAbstractItemModel::layoutChanged, this, [this] { Q_EMIT selectionChanged(); });
  updateCount();
}

QStringList LayerBrowser::selectedLayers() const {
  QStringList names;
  for (const QModelIndex& i : view_->selectionModel()->selectedRows(LayerTableModel::NameColumn)) names << i.data().toString();
  return names;
}

QString LayerBrowser::selectionGlob() const {
  const QString glob = proxy_->glob().trimmed();
  // A condition picks layers by today's numbers: the rule lists them instead of a glob.
  if (glob.isEmpty() || proxy_->hasConditions() || !proxy_->error().isEmpty() || (!glob.contains(QLatin1Char('*')) && !glob.contains(QLatin1Char('?')))) return {};
  const int selected = static_cast<int>(view_->selectionModel()->selectedRows().size());
  return selected > 0 && selected == proxy_->rowCount() ? glob : QString();
}

void LayerBrowser::setSession(const ModelSession* session) {
  model_->setSession(session);
  // The SQNR column shows once a run exists or a float model is compared: until then it would be empty.
  disconnect(run_connection_);
  disconnect(parent_connection_);
  auto show_errors = [this, session] {
    view_->setColumnHidden(LayerTableModel::ErrorColumn, !session || (!session->hasRun() && !session->hasParent()));
  };
  if (session) {
    run_connection_ = connect(session, &ModelSession::runChanged, this, show_errors);
    parent_connection_ = connect(session, &ModelSession::parentChanged, this, show_errors);
  }
  show_errors();
  // Likewise the activation columns, once a calibration is shown.
  disconnect(activations_connection_);
  auto show_activations = [this, session] {
    for (int c = LayerTableModel::ActAbsmaxColumn; c <= LayerTableModel::ActOutliersColumn; ++c) {
      view_->setColumnHidden(c, !session || !session->hasActivations());
      if (session && session->hasActivations()) view_->resizeColumnToContents(c);
    }
  };
  if (session) activations_connection_ = connect(session, &ModelSession::activationsChanged, this, show_activations);
  show_activations();
  // And the sensitivity column, once a sensitivity run is shown.
  disconnect(sensitivity_connection_);
  auto show_sensitivity = [this, session] {
    view_->setColumnHidden(LayerTableModel::SensitivityColumn, !session || !session->hasSensitivity());
    if (session && session->hasSensitivity()) view_->resizeColumnToContents(LayerTableModel::SensitivityColumn);
  };
  if (session) sensitivity_connection_ = connect(session, &ModelSession::sensitivityChanged, this, show_sensitivity);
  show_sensitivity();
  view_->resizeColumnsToContents();
  int longest = view_->fontMetrics().horizontalAdvance(QStringLiteral("model.layers.0.mlp.down_proj"));
  for (int r = 0; r < model_->rowCount(); ++r)
    longest = std::max(longest, view_->fontMetrics().horizontalAdvance(model_->index(r, LayerTableModel::NameColumn).data().toString()));
  view_->setColumnWidth(LayerTableModel::NameColumn, std::min(longest + 12, 340));
  Q_EMIT currentLayerChanged(-1);
}

QTableView* LayerBrowser::frozenNames() const { return frozen_->view(); }

int LayerBrowser::currentRow() const {
  const QModelIndex current = view_->selectionModel()->currentIndex();
  return current.isValid() ? proxy_->mapToSource(current).row() : -1;
}

bool LayerBrowser::selectLayer(const QString& name) {
  const QModelIndexList hits = model_->match(model_->index(0, LayerTableModel::NameColumn), Qt::DisplayRole, name, 1,
                                             Qt::MatchExactly);
  if (hits.isEmpty()) return false;
  QModelIndex index = proxy_->mapFromSource(hits.first());
  if (!index.isValid()) {
    filter_->clear();
    index = proxy_->mapFromSource(hits.first());
  }
  view_->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
  view_->scrollTo(index, QAbstractItemView::PositionAtCenter);
  return true;
}

void LayerBrowser::selectTop() {
  const QModelIndex top = proxy_->index(0, LayerTableModel::NameColumn);
  if (top.isValid())
    view_->selectionModel()->setCurrentIndex(top, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void LayerBrowser::focusFilter() {
  filter_->setFocus(Qt::ShortcutFocusReason);
  filter_->selectAll();
}

void LayerBrowser::updateCount() {
  const QString error = proxy_->error();
  count_->setText(error.isEmpty() ? tr("%1 of %2 layers").arg(proxy_->rowCount()).arg(model_->rowCount())
                                  : tr("<span style=\"color:#c0392b\">%1</span> · %2 of %3 layers")
                                        .arg(error.toHtmlEscaped())
                                        .arg(proxy_->rowCount())
                                        .arg(model_->rowCount()));
}

}  // namespace quench::gui
