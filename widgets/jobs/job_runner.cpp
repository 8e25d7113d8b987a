#include "widgets/jobs/job_runner.h"

#include <exception>

#include "widgets/jobs/eta.h"
#include "widgets/jobs/job_worker.h"

namespace quench::gui {

JobRunner::JobRunner(QObject* parent) : QObject(parent), worker_(std::make_unique<JobWorker>()) {
  qRegisterMetaType<std::shared_ptr<Job>>();
  qRegisterMetaType<CancelFlag>();
  qRegisterMetaType<UiCallback>();
  thread_.setObjectName(QStringLiteral("quench-jobs"));
  worker_->moveToThread(&thread_);
  connect(this, &JobRunner::runRequested, worker_.get(), &JobWorker::run);
  connect(worker_.get(), &JobWorker::progressed, this, &JobRunner::onProgressed);
  connect(worker_.get(), &JobWorker::logged, this, [this](quint64, const QString& line) { Q_EMIT logged(line); });
  // Partial results of a job that was cancelled meanwhile are dropped: the UI has moved on.
  connect(worker_.get(), &JobWorker::posted, this, [this](quint64 id, const UiCallback& f) {
    if (!current_ || current_->id != id || current_->cancel->load()) return;
    // A partial result the UI cannot take ends the job: it is reported as the job's failure.
    try {
      f();
    } catch (const std::exception& e) {
      current_->error = QString::fromStdString(e.what());
      current_->cancel->store(true);
    }
  });
  connect(worker_.get(), &JobWorker::succeeded, this, [this](quint64 id) { onEnded(id, Outcome::Succeeded, {}); });
  connect(worker_.get(), &JobWorker::failed, this, [this](quint64 id, const QString& e) { onEnded(id, Outcome::Failed, e); });
  connect(worker_.get(), &JobWorker::cancelled, this, [this](quint64 id) { onEnded(id, Outcome::Cancelled, {}); });
  // Jobs yield the CPU to the UI thread: on Linux QThread's priorities do not apply to normal
  // threads, so the job thread lowers its own nice value (threads libtorch starts from it, such
  // as its OpenMP team, inherit it); elsewhere LowPriority does the same.
  connect(&thread_, &QThread::started, worker_.get(), &JobWorker::lowerPriority, Qt::DirectConnection);
  thread_.start(QThread::LowPriority);
}

JobRunner::~JobRunner() {
  if (current_) current_->cancel->store(true);
  for (auto& e : queue_) e.cancel->store(true);
  thread_.requestInterruption();
  thread_.quit();
  thread_.wait();
}

quint64 JobRunner::submit(Job job) {
  Entry e{next_id_++, std::make_shared<Job>(std::move(job)), std::make_shared<std::atomic<bool>>(false), {}};
  const quint64 id = e.id;
  queue_.push_back(std::move(e));
  if (!current_) startNext();
  return id;
}

void JobRunner::cancelAll() {
  for (auto& e : queue_) e.cancel->store(true);
  queue_.clear();
  if (current_ && !current_->cancel->exchange(true)) Q_EMIT cancelling(current_->id);
}

void JobRunner::startNext() {
  if (queue_.empty()) {
    Q_EMIT idle();
    return;
  }
  current_ = std::make_unique<Entry>(std::move(queue_.front()));
  queue_.pop_front();
  elapsed_.start();
  Q_EMIT started(current_->id, current_->job->title);
  Q_EMIT runRequested(current_->id, current_->job, current_->cancel);
}

void JobRunner::onProgressed(quint64 id, qint64 done, qint64 total, const QString& message) {
  if (!current_ || current_->id != id) return;
  const double eta = EtaEstimator::remaining(elapsed_.elapsed() / 1000.0, done, total);
  Q_EMIT progressed(id, done, total, message, eta);
}

void JobRunner::onEnded(quint64 id, Outcome outcome, const QString& error) {
  if (!current_ || current_->id != id) return;
  const Entry& ended = *current_;
  QString message = error;
  if (!ended.error.isEmpty()) {
    outcome = Outcome::Failed;
    message = ended.error;
  }
  // Cancelling means none of the job's result is applied, even when its work had just returned.
  if (outcome == Outcome::Succeeded && ended.cancel->load()) outcome = Outcome::Cancelled;
  // done() runs while this job is still current, so jobs it submits queue behind it and start
  // after its finished() (the log reads in order).
  if (outcome == Outcome::Succeeded && ended.job->done) {
    // The UI thread is a boundary too: a result that cannot be shown is reported, not fatal.
    try {
      ended.job->done();
    } catch (const std::exception& e) {
      outcome = Outcome::Failed;
      message = QString::fromStdString(e.what());
    }
  }
  const QString title = ended.job->title;
  current_.reset();
  Q_EMIT finished(id, title, outcome, message);
  startNext();
}

}  // namespace quench::gui
