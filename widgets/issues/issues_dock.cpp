#include "widgets/issues/issues_dock.h"

#include <QHeaderView>
#include <QTreeView>

#include "widgets/issues/issues_model.h"

namespace quench::gui {

IssuesDock::IssuesDock(IssuesModel& model, QWidget* parent)
    : QDockWidget(parent), model_(model), view_(new QTreeView(this)) {
  setObjectName(QStringLiteral("issuesDock"));
  view_->setModel(&model);
  view_->setRootIsDecorated(false);
  view_->setUniformRowHeights(true);
  view_->setAlternatingRowColors(true);
  view_->header()->setSectionResizeMode(IssuesModel::SeverityColumn, QHeaderView::ResizeToContents);
  view_->header()->setSectionResizeMode(IssuesModel::LayerColumn, QHeaderView::ResizeToContents);
  view_->header()->setStretchLastSection(true);  // the message
  setWidget(view_);
  connect(view_, &QTreeView::activated, this, [this](const QModelIndex& index) {
    const QString layer = model_.data(index, IssuesModel::LayerRole).toString();
    if (!layer.isEmpty()) Q_EMIT jumpToLayer(layer);
  });
  connect(&model, &IssuesModel::countsChanged, this, &IssuesDock::updateTitle);
  updateTitle();
}

void IssuesDock::updateTitle() {
  const int errors = model_.count(Issue::Severity::Error);
  const int warnings = model_.count(Issue::Severity::Warning);
  QString title = tr("Issues");
  if (errors + warnings > 0) title += tr(" (%1 errors, %2 warnings)").arg(errors).arg(warnings);
  setWindowTitle(title);
}

}  // namespace quench::gui
