#include "widgets/jobs/job_worker.h"

#include <exception>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core/util/error.h"
#include "widgets/jobs/job_context.h"

namespace quench::gui {

void JobWorker::lowerPriority() {
#ifdef __linux__
  // Linux keeps a nice value per thread; PRIO_PROCESS with a thread id sets this thread's only.
  // Failure is harmless (the job merely competes with the UI as an equal), so it is ignored.
  constexpr int kJobNice = 10;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  (void)setpriority(PRIO_PROCESS, tid, kJobNice);
#endif
}

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
