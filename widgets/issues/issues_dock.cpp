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
    if (index.isValid() && !model_.issue(index.row()).layer.isEmpty()) Q_EMIT jumpTo(model_.issue(index.row()));
  });
  connect(&model, &IssuesModel::countsChanged, this, &IssuesDock::updateTitle);
  updateTitle();
}

void IssuesDock::updateTitle() {
  const int errors = model_.count(Issue::Severity::Error);
  const int warnings = model_.count(Issue::Severity::Warning);
  QString title = tr("Issues");
  auto count = [](int n, const QString& one, const QString& many) { return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many); };
  if (errors + warnings > 0)
    title += QStringLiteral(" (%1, %2)").arg(count(errors, tr("error"), tr("errors")), count(warnings, tr("warning"), tr("warnings")));
  setWindowTitle(title);
}

}  // namespace quench::gui
