#pragma once
// The log of everything jobs did: one time-stamped line per event, newest at the bottom.
#include <QPlainTextEdit>

namespace quench::gui {

class JobRunner;

class LogPane : public QPlainTextEdit {
  Q_OBJECT

 public:
  explicit LogPane(QWidget* parent = nullptr);
  // Logs the runner's job starts, ends (with their duration and errors) and job log lines.
  void follow(JobRunner& runner);

 public Q_SLOTS:
  void append(const QString& line);

 private:
  // Long sessions must not grow without bound.
  static constexpr int kMaxLines = 5000;
};

}  // namespace quench::gui
