#include "widgets/jobs/job_context.h"

#include "core/util/error.h"
#include "widgets/jobs/job_worker.h"

namespace quench::gui {

JobContext::JobContext(JobWorker& worker, quint64 id, CancelFlag cancel)
    : worker_(worker), id_(id), cancel_(std::move(cancel)) {}

void JobContext::progress(int64_t done, int64_t total, const QString& message) {
  const bool last = total > 0 && done >= total;
  if (since_sent_.isValid() && since_sent_.elapsed() < kMinIntervalMs && !last) return;
  since_sent_.start();
  Q_EMIT worker_.progressed(id_, done, total, message);
}

void JobContext::log(const QString& line) { Q_EMIT worker_.logged(id_, line); }

void JobContext::post(UiCallback f) { Q_EMIT worker_.posted(id_, std::move(f)); }

void JobContext::check_cancelled() const {
  if (cancelled()) throw quench::Cancelled();
}

}  // namespace quench::gui
