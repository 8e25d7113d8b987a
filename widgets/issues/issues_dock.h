#pragma once
// The Issues dock: the IssuesModel in a view; activating an issue that names a layer asks the
// window to show that layer, on the page (and at the point) the issue is about.
#include <QDockWidget>

#include "widgets/issues/issues_model.h"

class QTreeView;

namespace quench::gui {

class IssuesDock : public QDockWidget {
  Q_OBJECT

 public:
  IssuesDock(IssuesModel& model, QWidget* parent = nullptr);
  QTreeView* view() const { return view_; }

 Q_SIGNALS:
  // An issue that names a layer was activated (double-click or Enter).
  void jumpTo(const quench::gui::Issue& issue);

 private:
  void updateTitle();

  IssuesModel& model_;
  QTreeView* view_;
};

}  // namespace quench::gui
