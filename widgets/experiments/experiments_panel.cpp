#include "widgets/experiments/experiments_panel.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include "core/store/store.h"
#include "widgets/experiments/experiment_list_model.h"

namespace quench::gui {

namespace {
// Cheap (one PRAGMA); the list re-reads only when the number moved.
constexpr int kPollMs = 1000;

// Text over name, notes, tags and kind; kind exact; model by folder path.
class ExperimentFilter : public QSortFilterProxyModel {
 public:
  using QSortFilterProxyModel::QSortFilterProxyModel;
  QString text, kind, model_path;
  void apply() { invalidateFilter(); }

 protected:
  bool filterAcceptsRow(int row, const QModelIndex&) const override {
    const auto* m = static_cast<const ExperimentListModel*>(sourceModel());
    const ExperimentSummary& s = m->summary(row);
    if (!kind.isEmpty() && QLatin1String(run_kind_name(s.kind)) != kind) return false;
    if (!model_path.isEmpty() && QDir::cleanPath(QString::fromStdString(s.model_path)) != model_path) return false;
    if (text.isEmpty()) return true;
    for (const std::string& field : {s.name, s.notes, std::string(run_kind_name(s.kind)), std::to_string(s.id)})
      if (QString::fromStdString(field).contains(text, Qt::CaseInsensitive)) return true;
    for (const std::string& tag : s.tags)
      if (QString::fromStdString(tag).contains(text, Qt::CaseInsensitive)) return true;
    return false;
  }
};
}  // namespace

ExperimentsPanel::ExperimentsPanel(QWidget* parent)
    : QWidget(parent), model_(new ExperimentListModel(this)), proxy_(new ExperimentFilter(this)), filter_(new QLineEdit(this)),
      kind_(new QComboBox(this)), this_model_(new QCheckBox(tr("This model only"), this)), view_(new QTableView(this)),
      status_(new QLabel(this)), poll_(new QTimer(this)) {
  setObjectName(QStringLiteral("experimentsPanel"));
  proxy_->setSourceModel(model_);
  proxy_->setSortRole(ExperimentListModel::SortRole);
  filter_->setObjectName(QStringLiteral("experimentFilter"));
  filter_->setPlaceholderText(tr("Filter by name, notes, tags, kind or number"));
  filter_->setClearButtonEnabled(true);
  kind_->setObjectName(QStringLiteral("experimentKind"));
  kind_->addItem(tr("All kinds"), QString());
  for (RunKind k : kRunKinds) kind_->addItem(QString::fromLatin1(run_kind_name(k)), QString::fromLatin1(run_kind_name(k)));
  this_model_->setObjectName(QStringLiteral("thisModelOnly"));
  this_model_->setChecked(true);
  view_->setObjectName(QStringLiteral("experimentTable"));
  view_->setModel(proxy_);
  view_->setSortingEnabled(true);
  view_->sortByColumn(ExperimentListModel::IdColumn, Qt::DescendingOrder);
  view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  view_->setSelectionMode(QAbstractItemView::ExtendedSelection);
  view_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
  view_->setAlternatingRowColors(true);
  view_->setWordWrap(false);
  view_->verticalHeader()->setVisible(false);
  view_->verticalHeader()->setDefaultSectionSize(view_->fontMetrics().height() + 6);
  view_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  view_->horizontalHeader()->setSectionResizeMode(ExperimentListModel::NotesColumn, QHeaderView::Stretch);
  status_->setObjectName(QStringLiteral("experimentStatus"));
  status_->setWordWrap(true);

  open_ = new QPushButton(tr("Open"), this);
  open_->setObjectName(QStringLiteral("openExperiment"));
  open_->setToolTip(tr("Load the run's recipe into the recipe editor and its per-layer results into the layer table"));
  compare_ = new QPushButton(tr("Compare"), this);
  compare_->setObjectName(QStringLiteral("compareExperiments"));
  compare_->setToolTip(tr("Metrics with deltas, per-layer errors and size against quality for the selected runs (select two or more)"));
  details_ = new QPushButton(tr("Details"), this);
  details_->setObjectName(QStringLiteral("runDetails"));
  details_->setToolTip(tr("The selected run in a window of its own: metrics, every layer's result in a sortable table, data, "
                          "device, duration and recipe, exportable as an HTML report"));
  remove_ = new QPushButton(tr("Delete"), this);
  remove_->setObjectName(QStringLiteral("deleteExperiment"));
  connect(open_, &QPushButton::clicked, this, &ExperimentsPanel::openSelected);
  connect(compare_, &QPushButton::clicked, this, &ExperimentsPanel::compareSelected);
  connect(details_, &QPushButton::clicked, this, &ExperimentsPanel::showDetails);
  connect(remove_, &QPushButton::clicked, this, [this] { removeSelected(true); });
  connect(view_, &QTableView::activated, this, [this](const QModelIndex& i) {
    if (i.column() != ExperimentListModel::NameColumn && i.column() != ExperimentListModel::TagsColumn && i.column() != ExperimentListModel::NotesColumn)
      openSelected();
  });

  auto* top = new QHBoxLayout();
  top->addWidget(filter_, 1);
  top->addWidget(kind_);
  top->addWidget(this_model_);
  auto* buttons = new QHBoxLayout();
  buttons->addWidget(open_);
  buttons->addWidget(details_);
  buttons->addWidget(compare_);
  buttons->addWidget(remove_);
  // Wrapped, so that the hint does not set the side pane's width in a small window.
  auto* hint = new QLabel(tr("Double-click a name, tags or notes to edit"), this);
  hint->setWordWrap(true);
  hint->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
  buttons->addWidget(hint, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(top);
  layout->addWidget(view_, 1);
  layout->addLayout(buttons);
  layout->addWidget(status_);

  auto* filter = static_cast<ExperimentFilter*>(proxy_);
  connect(filter_, &QLineEdit::textChanged, this, [filter](const QString& t) {
    filter->text = t.trimmed();
    filter->apply();
  });
  connect(kind_, &QComboBox::currentIndexChanged, this, [this, filter] {
    filter->kind = kind_->currentData().toString();
    filter->apply();
  });
  connect(this_model_, &QCheckBox::toggled, this, [this](bool) { setModelPath(model_path_); });
  connect(view_->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ExperimentsPanel::updateButtons);
  connect(model_, &QAbstractItemModel::modelReset, this, &ExperimentsPanel::updateButtons);
  connect(model_, &ExperimentListModel::editFailed, this, &ExperimentsPanel::fail);
  connect(poll_, &QTimer::timeout, this, &ExperimentsPanel::poll);
  poll_->start(kPollMs);
  updateButtons();
}

ExperimentsPanel::~ExperimentsPanel() { model_->setStore(nullptr); }

void ExperimentsPanel::setDatabase(const QString& path) {
  model_->setStore(nullptr);
  store_.reset();
  data_version_ = -1;
  try {
    store_ = std::make_unique<Store>(Store::open(path.toStdString()));
    model_->setStore(store_.get());
    data_version_ = store_->data_version();
    status_->setText(tr("%1 runs in %2").arg(model_->rowCount()).arg(path));
  } catch (const std::exception& e) {
    store_.reset();
    fail(tr("Cannot use the experiment store: %1").arg(QString::fromStdString(e.what())));
  }
  updateButtons();
}

void ExperimentsPanel::setModelPath(const QString& dir) {
  model_path_ = dir.isEmpty() ? QString() : QDir::cleanPath(QFileInfo(dir).absoluteFilePath());
  auto* filter = static_cast<ExperimentFilter*>(proxy_);
  filter->model_path = this_model_->isChecked() ? model_path_ : QString();
  filter->apply();
}

void ExperimentsPanel::reload() {
  if (!store_) return;
  const QList<int64_t> keep = selectedIds();
  try {
    model_->reload();
    data_version_ = store_->data_version();
  } catch (const std::exception& e) {
    fail(QString::fromStdString(e.what()));
    return;
  }
  for (int64_t id : keep) selectId(id, true);
  status_->setText(tr("%1 runs in %2").arg(model_->rowCount()).arg(QString::fromStdString(store_->path())));
}

void ExperimentsPanel::poll() {
  // Not while a name or note is being edited: a reload would end the edit.
  const QWidget* focus = QApplication::focusWidget();
  if (!store_ || (focus && view_->viewport()->isAncestorOf(focus))) return;
  try {
    if (store_->data_version() != data_version_) reload();
  } catch (const std::exception&) {
    // A busy database now and then is normal while a job records; the next poll tries again.
  }
}

QList<int64_t> ExperimentsPanel::selectedIds() const {
  QList<int64_t> ids;
  for (const QModelIndex& i : view_->selectionModel()->selectedRows(ExperimentListModel::IdColumn))
    ids << i.data(ExperimentListModel::IdRole).toLongLong();
  return ids;
}

bool ExperimentsPanel::selectId(int64_t id, bool add) {
  const int row = model_->rowOfId(id);
  if (row < 0) return false;
  const QModelIndex index = proxy_->mapFromSource(model_->index(row, 0));
  if (!index.isValid()) return false;
  view_->selectionModel()->select(index, (add ? QItemSelectionModel::Select : QItemSelectionModel::ClearAndSelect) | QItemSelectionModel::Rows);
  view_->scrollTo(index);
  return true;
}

void ExperimentsPanel::openSelected() {
  const QList<int64_t> ids = selectedIds();
  if (!store_ || ids.size() != 1) {
    status_->setText(tr("Select one run to open."));
    return;
  }
  try {
    Q_EMIT openRequested(store_->get(ids.front()));
  } catch (const std::exception& e) {
    fail(QString::fromStdString(e.what()));
  }
}

void ExperimentsPanel::compareSelected() {
  const QList<int64_t> ids = selectedIds();
  if (ids.size() < 2) {
    status_->setText(tr("Select two or more runs to compare (Ctrl+click)."));
    return;
  }
  Q_EMIT compareRequested(ids);
}

void ExperimentsPanel::showDetails() {
  const QList<int64_t> ids = selectedIds();
  if (ids.size() != 1) {
    status_->setText(tr("Select one run to see its details."));
    return;
  }
  Q_EMIT compareRequested(ids);  // the compare window of one run is its detail page
}

void ExperimentsPanel::removeSelected(bool confirm) {
  const QList<int64_t> ids = selectedIds();
  if (!store_ || ids.isEmpty()) return;
  auto remove = [this, ids] {
    for (int64_t id : ids) {
      try {
        store_->remove(id);
      } catch (const std::exception& e) {
        fail(QString::fromStdString(e.what()));
      }
    }
    reload();
  };
  if (!confirm) {
    remove();
    return;
  }
  QStringList names;
  for (int64_t id : ids) names << QStringLiteral("#%1").arg(id);
  // Not exec(): a modal loop would stall the window's updates (and tests).
  auto* box = new QMessageBox(QMessageBox::Question, tr("Delete Runs"),
                              tr("Delete %1 with their metrics and per-layer results? This cannot be undone.").arg(names.join(QStringLiteral(", "))),
                              QMessageBox::Yes | QMessageBox::Cancel, this);
  box->setObjectName(QStringLiteral("confirmDelete"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  connect(box, &QMessageBox::buttonClicked, this, [box, remove](QAbstractButton* b) {
    if (box->standardButton(b) == QMessageBox::Yes) remove();
  });
  box->open();
}

void ExperimentsPanel::updateButtons() {
  const int n = static_cast<int>(selectedIds().size());
  open_->setEnabled(n == 1);
  compare_->setEnabled(n >= 2);
  details_->setEnabled(n == 1);
  remove_->setEnabled(n >= 1);
}

void ExperimentsPanel::fail(const QString& message) {
  status_->setText(message);
  Q_EMIT storeFailed(message);
}

}  // namespace quench::gui
