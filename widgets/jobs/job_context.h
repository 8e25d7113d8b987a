#pragma once
// What a job's work function sees on the job thread. Every call is cheap and never blocks on the
// UI: progress is rate-limited here, so a core loop may report after every step without
// flooding the UI thread's event queue.
#include <QElapsedTimer>
#include <QString>

#include <cstdint>
#include <string>

#include "widgets/jobs/job.h"

namespace quench::gui {

class JobWorker;

class JobContext {
 public:
  JobContext(JobWorker& worker, quint64 id, CancelFlag cancel);

  // done of total steps (total 0: unknown, the bar shows activity only). Sent at most every
  // kMinInterval, and always for the last step.
  void progress(int64_t done, int64_t total, const QString& message = {});
  void log(const QString& line);
  // Runs f on the UI thread after everything the job sent before it.
  void post(UiCallback f);

  bool cancelled() const { return cancel_->load(); }
  // Throws quench::Cancelled when the user asked to stop: call between steps.
  void check_cancelled() const;

  static constexpr qint64 kMinIntervalMs = 40;

 private:
  JobWorker& worker_;
  quint64 id_;
  CancelFlag cancel_;
  QElapsedTimer since_sent_;
};

}  // namespace quench::gui
