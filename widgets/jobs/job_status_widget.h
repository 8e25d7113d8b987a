#pragma once
// The status-bar face of the JobRunner: what runs, a progress bar, the time left and a cancel
// button. Hidden while no job runs.
#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;

namespace quench::gui {

class JobRunner;

class JobStatusWidget : public QWidget {
  Q_OBJECT

 public:
  explicit JobStatusWidget(JobRunner& runner, QWidget* parent = nullptr);

  // "12 s left", "3 min 20 s left"; empty when unknown.
  static QString etaText(double seconds);

 private:
  QLabel* title_;
  QProgressBar* bar_;
  QLabel* eta_;
  QToolButton* cancel_;
};

}  // namespace quench::gui
