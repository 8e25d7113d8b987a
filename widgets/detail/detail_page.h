#pragma once
// One tab of the layer detail pane. Weight statistics are the first; activation statistics,
// Mamba internals and before/after views of a run slot in as further pages.
#include <QWidget>

namespace quench::gui {

class ModelSession;

class DetailPage : public QWidget {
  Q_OBJECT

 public:
  using QWidget::QWidget;

  virtual QString pageTitle() const = 0;
  // Shows layer `row` of the session (session order). Called again when the session's data for
  // that layer changes, so pages never hold stale numbers.
  virtual void showLayer(const ModelSession& session, int row) = 0;
};

}  // namespace quench::gui
