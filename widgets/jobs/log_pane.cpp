#include "widgets/jobs/log_pane.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QFontDatabase>

#include <memory>

#include "widgets/jobs/job_runner.h"

namespace quench::gui {

LogPane::LogPane(QWidget* parent) : QPlainTextEdit(parent) {
  setReadOnly(true);
  setMaximumBlockCount(kMaxLines);
  setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  setObjectName(QStringLiteral("logPane"));
}

void LogPane::append(const QString& line) {
  appendPlainText(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss  ")) + line);
}

void LogPane::follow(JobRunner& runner) {
  auto clock = std::make_shared<QElapsedTimer>();
  connect(&runner, &JobRunner::started, this, [this, clock](quint64, const QString& title) {
    clock->start();
    append(tr("%1 …").arg(title));
  });
  connect(&runner, &JobRunner::logged, this, &LogPane::append);
  connect(&runner, &JobRunner::finished, this,
          [this, clock](quint64, const QString& title, JobRunner::Outcome outcome, const QString& error) {
            const QString took = QString::number(clock->elapsed() / 1000.0, 'f', 2);
            switch (outcome) {
              case JobRunner::Outcome::Succeeded: append(tr("%1: done in %2 s").arg(title, took)); break;
              case JobRunner::Outcome::Cancelled: append(tr("%1: cancelled after %2 s").arg(title, took)); break;
              case JobRunner::Outcome::Failed: append(tr("%1: failed after %2 s: %3").arg(title, took, error)); break;
            }
          });
}

}  // namespace quench::gui
