#pragma once
// The UI-side owner of the job thread: queues jobs and runs them one at a time on a JobWorker
// moved to a QThread (Tiled's FolderScanner pattern). Requests go in as queued signals, results
// come back as signals; cancel sets the job's flag, which the job polls between steps.
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QThread>

#include <deque>
#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class JobWorker;

class JobRunner : public QObject {
  Q_OBJECT

 public:
  enum class Outcome { Succeeded, Failed, Cancelled };
  Q_ENUM(Outcome)

  explicit JobRunner(QObject* parent = nullptr);
  // Cancels what runs and waits for it to return (a job that cannot be interrupted mid-step,
  // such as reading a checkpoint, finishes that step first).
  ~JobRunner() override;

  // Queues a job; it starts when the ones before it are done. Returns its id.
  quint64 submit(Job job);
  bool busy() const { return current_ != nullptr; }

 public Q_SLOTS:
  // Cancels the running job and drops the queued ones.
  void cancelAll();

 Q_SIGNALS:
  void started(quint64 id, const QString& title);
  // Cancel was asked for the running job; it stops at its next check (finished follows).
  void cancelling(quint64 id);
  // total 0: unknown. eta_seconds −1: unknown.
  void progressed(quint64 id, qint64 done, qint64 total, const QString& message, double eta_seconds);
  void logged(const QString& line);
  void finished(quint64 id, const QString& title, quench::gui::JobRunner::Outcome outcome, const QString& error);
  // Emitted when the last queued job has finished.
  void idle();

  // To the worker (queued across threads).
  void runRequested(quint64 id, std::shared_ptr<quench::gui::Job> job, quench::gui::CancelFlag cancel);

 private:
  struct Entry {
    quint64 id;
    std::shared_ptr<Job> job;
    CancelFlag cancel;
    QString error;  // set when a posted partial result failed on the UI thread
  };
  void startNext();
  void onProgressed(quint64 id, qint64 done, qint64 total, const QString& message);
  void onEnded(quint64 id, Outcome outcome, const QString& error);

  QThread thread_;
  // Deleted after the thread has stopped (in the destructor), never while it runs a job.
  std::unique_ptr<JobWorker> worker_;
  std::deque<Entry> queue_;
  std::unique_ptr<Entry> current_;
  QElapsedTimer elapsed_;
  quint64 next_id_ = 1;
};

}  // namespace quench::gui
