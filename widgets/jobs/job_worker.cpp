#include "widgets/jobs/job_worker.h"

#include <exception>

#include "core/util/error.h"
#include "widgets/jobs/job_context.h"

namespace quench::gui {

void JobWorker::run(quint64 id, std::shared_ptr<Job> job, CancelFlag cancel) {
  // A job cancelled while it waited in the queue never starts.
  if (cancel->load()) {
    Q_EMIT cancelled(id);
    return;
  }
  JobContext ctx(*this, id, cancel);
  // The job thread is the boundary for background work: nothing thrown may escape into Qt's
  // event loop, so every failure becomes a message for the UI.
  try {
    job->work(ctx);
    Q_EMIT succeeded(id);
  } catch (const quench::Cancelled&) {
    Q_EMIT cancelled(id);
  } catch (const std::exception& e) {
    Q_EMIT failed(id, QString::fromStdString(e.what()));
  } catch (...) {
    Q_EMIT failed(id, tr("unknown error (a non-standard exception)"));
  }
}

}  // namespace quench::gui
