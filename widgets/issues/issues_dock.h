#pragma once
// The Issues dock: the IssuesModel in a view; activating an issue that names a layer asks the
// window to show that layer.
#include <QDockWidget>

class QTreeView;

namespace quench::gui {

class IssuesModel;

class IssuesDock : public QDockWidget {
  Q_OBJECT

 public:
  IssuesDock(IssuesModel& model, QWidget* parent = nullptr);
  QTreeView* view() const { return view_; }

 Q_SIGNALS:
  void jumpToLayer(const QString& layer);

 private:
  void updateTitle();

  IssuesModel& model_;
  QTreeView* view_;
};

}  // namespace quench::gui
