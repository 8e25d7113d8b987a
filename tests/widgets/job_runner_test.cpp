// The job machinery: jobs run on the job thread, report progress (rate-limited), hand partial
// results to the UI thread in order, fail with their message, and stop when cancelled.
#include <QSignalSpy>
#include <QThread>
#include <QToolButton>
#include <QLabel>
#include <QtTest>

#include <atomic>
#include <stdexcept>

#include "core/util/error.h"
#include "widgets/jobs/eta.h"
#include "widgets/jobs/job_context.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/jobs/job_status_widget.h"

using namespace quench::gui;
using Outcome = JobRunner::Outcome;

class JobRunnerTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void runsOnTheJobThreadAndFinishesOnTheUiThread() {
    JobRunner runner;
    QThread* work_thread = nullptr;
    QThread* done_thread = nullptr;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.submit({QStringLiteral("probe"), [&](JobContext&) { work_thread = QThread::currentThread(); },
                   [&] { done_thread = QThread::currentThread(); }});
    QVERIFY(finished.wait(10000));
    QVERIFY(work_thread && work_thread != QThread::currentThread());
    QCOMPARE(done_thread, QThread::currentThread());
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Succeeded);
  }

  void progressIsRateLimitedAndPostsArriveInOrder() {
    JobRunner runner;
    QSignalSpy progressed(&runner, &JobRunner::progressed);
    QSignalSpy idle(&runner, &JobRunner::idle);
    std::vector<int> received;
    constexpr int kSteps = 200000;
    runner.submit({QStringLiteral("flood"), [&received](JobContext& ctx) {
                     for (int i = 0; i < kSteps; ++i) {
                       ctx.progress(i + 1, kSteps, QStringLiteral("step"));
                       if (i % 20000 == 0) ctx.post([&received, i] { received.push_back(i); });
                     }
                   },
                   {}});
    QVERIFY(idle.wait(30000));
    // 200,000 reports become a handful of signals, and the last step is always among them.
    QVERIFY2(progressed.count() < 2000, qPrintable(QString::number(progressed.count())));
    QCOMPARE(progressed.last().at(1).toLongLong(), static_cast<qlonglong>(kSteps));
    QCOMPARE(received.size(), size_t{10});
    QVERIFY(std::is_sorted(received.begin(), received.end()));
  }

  void failuresCarryTheirMessage() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    bool done_called = false;
    runner.submit({QStringLiteral("broken"), [](JobContext&) { quench::fail("tensor 'x' missing in a.safetensors"); },
                   [&] { done_called = true; }});
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Failed);
    QCOMPARE(finished.first().at(3).toString(), QStringLiteral("tensor 'x' missing in a.safetensors"));
    QVERIFY(!done_called);
    // A result the UI thread cannot take is the job's failure too.
    finished.clear();
    runner.submit({QStringLiteral("bad result"), [](JobContext& ctx) { ctx.post([] { throw std::runtime_error("cannot show"); }); },
                   {}});
    QVERIFY(finished.wait(10000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Failed);
    QCOMPARE(finished.first().at(3).toString(), QStringLiteral("cannot show"));
  }

  void cancelStopsTheRunningJobAndDropsTheQueue() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    QSignalSpy started(&runner, &JobRunner::started);
    std::atomic<bool> second_ran{false};
    bool done_called = false;
    runner.submit({QStringLiteral("endless"),
                   [](JobContext& ctx) {
                     for (int64_t i = 0;; ++i) {
                       ctx.check_cancelled();
                       ctx.progress(i, 0);
                       QThread::msleep(1);
                     }
                   },
                   [&] { done_called = true; }});
    runner.submit({QStringLiteral("queued"), [&](JobContext&) { second_ran = true; }, {}});
    QCOMPARE(started.count(), 1);  // the first job starts at once
    QVERIFY(runner.busy());
    runner.cancelAll();
    QTRY_VERIFY_WITH_TIMEOUT(!runner.busy(), 10000);
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Cancelled);
    QVERIFY(!done_called);
    QVERIFY(!second_ran);
  }

  void destructorCancelsAndWaits() {
    std::atomic<bool> stopped{false};
    {
      JobRunner runner;
      QSignalSpy started(&runner, &JobRunner::started);
      runner.submit({QStringLiteral("endless"),
                     [&stopped](JobContext& ctx) {
                       while (!ctx.cancelled()) QThread::msleep(1);
                       stopped = true;
                     },
                     {}});
      QCOMPARE(started.count(), 1);
      QTest::qWait(20);
    }
    QVERIFY(stopped);
  }

  void etaFromProgress() {
    QCOMPARE(EtaEstimator::remaining(10, 0, 100), -1.0);
    QCOMPARE(EtaEstimator::remaining(10, 5, 0), -1.0);      // no total
    QCOMPARE(EtaEstimator::remaining(0.1, 50, 100), -1.0);  // too early to tell
    QCOMPARE(EtaEstimator::remaining(10, 1, 100), -1.0);    // too little done
    QCOMPARE(EtaEstimator::remaining(10, 50, 100), 10.0);
    QCOMPARE(EtaEstimator::remaining(30, 75, 100), 10.0);
    QCOMPARE(JobStatusWidget::etaText(-1), QString());
    QCOMPARE(JobStatusWidget::etaText(9.2), QStringLiteral("10 s left"));
    QCOMPARE(JobStatusWidget::etaText(125), QStringLiteral("2 min 5 s left"));
    QCOMPARE(JobStatusWidget::etaText(7260), QStringLiteral("2 h 1 min left"));
  }

  void statusWidgetFollowsTheJob() {
    JobRunner runner;
    QWidget window;
    auto* status = new JobStatusWidget(runner, &window);
    window.show();
    QVERIFY(status->isHidden());
    std::atomic<bool> release{false};
    runner.submit({QStringLiteral("half"),
                   [&release](JobContext& ctx) {
                     ctx.progress(50, 100, QStringLiteral("halfway"));
                     while (!release) QThread::msleep(1);
                   },
                   {}});
    auto* bar = status->findChild<QProgressBar*>();
    QTRY_COMPARE_WITH_TIMEOUT(bar->value(), 500, 10000);
    QVERIFY(status->isVisible());
    release = true;
    QTRY_VERIFY_WITH_TIMEOUT(status->isHidden(), 10000);
  }

  // Cancel shows "Cancelling …" and disables itself at once, while the job still runs to its next check.
  void cancellingIsShownUntilTheJobStops() {
    JobRunner runner;
    QWidget window;
    auto* status = new JobStatusWidget(runner, &window);
    window.show();
    std::atomic<bool> release{false};
    runner.submit({QStringLiteral("Slow step"),
                   [&release](JobContext& ctx) {
                     ctx.progress(10, 100);
                     while (!release) QThread::msleep(1);  // one long step: no check meanwhile
                     ctx.check_cancelled();
                   },
                   {}});
    auto* cancel = status->findChild<QToolButton*>(QStringLiteral("cancelJob"));
    QTRY_VERIFY_WITH_TIMEOUT(status->isVisible(), 10000);
    QVERIFY(cancel && cancel->isEnabled());
    QSignalSpy cancelling(&runner, &JobRunner::cancelling);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QCOMPARE(cancelling.count(), 1);
    auto* title = status->findChild<QLabel*>();
    QCOMPARE(title->text(), QStringLiteral("Cancelling Slow step…"));
    QVERIFY(!cancel->isEnabled());
    runner.cancelAll();  // a second request says nothing new
    QCOMPARE(cancelling.count(), 1);
    release = true;
    QTRY_VERIFY_WITH_TIMEOUT(status->isHidden(), 10000);
  }
};

QTEST_MAIN(JobRunnerTest)
#include "job_runner_test.moc"
