// The UI thread stays responsive while jobs run: a timer on the UI thread measures how late it
// fires while the window opens models and computes their statistics (results streaming into the
// table and the detail pane), and while a job floods it with progress, log lines and partial
// results, and while a compress run and a calibration run and apply their results. Lateness over
// 100 ms fails.
//
// What counts: the time the UI thread was late because it was busy or blocked. On Linux the time
// it spent runnable but waiting for a CPU (the run-queue delay in /proc/thread-self/schedstat)
// is taken off: on a shared 2-core machine another process's compiler can hold both cores for
// longer than 100 ms, which says nothing about this program. Our own jobs cannot hide behind
// that allowance: they run at nice 10 (checked below), so they yield the CPU to the UI thread.
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QSpinBox>
#include <QSignalSpy>
#include <QtTest>

#include <algorithm>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "test_support.h"
#include "widgets/detail/activation_page.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/jobs/job_context.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/runs/run_dialog.h"
#include "widgets/session/model_session.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

using namespace quench::gui;

namespace {
constexpr int kTickMs = 10;
constexpr qint64 kMaxLatenessMs = 100;

// Milliseconds this thread has spent waiting for a CPU since it started (0 where unknown).
double runQueueWaitMs() {
  QFile f(QStringLiteral("/proc/thread-self/schedstat"));
  if (!f.open(QIODevice::ReadOnly)) return 0;
  const QList<QByteArray> fields = f.readAll().simplified().split(' ');
  return fields.size() >= 2 ? fields[1].toDouble() / 1e6 : 0;
}

// Fires every kTickMs on the UI thread and records how much later than due each tick came.
class LatenessProbe : public QObject {
 public:
  LatenessProbe() {
    timer_.setTimerType(Qt::PreciseTimer);
    timer_.setInterval(kTickMs);
    connect(&timer_, &QTimer::timeout, this, [this] {
      const qint64 now = clock_.elapsed();
      const double waited = runQueueWaitMs();
      const double late = static_cast<double>(now - last_ - kTickMs);
      worst_raw_ = std::max(worst_raw_, late);
      worst_ = std::max(worst_, late - (waited - waited_));
      last_ = now;
      waited_ = waited;
      ++ticks_;
    });
    clock_.start();
    waited_ = runQueueWaitMs();
    timer_.start();
  }
  double worst() const { return worst_; }
  double worstRaw() const { return worst_raw_; }
  int ticks() const { return ticks_; }
  QString report() const {
    return QStringLiteral("%1 ticks; worst lateness %2 ms; worst lateness not spent waiting for a CPU %3 ms")
        .arg(ticks_)
        .arg(worst_raw_, 0, 'f', 0)
        .arg(worst_, 0, 'f', 0);
  }

 private:
  QTimer timer_;
  QElapsedTimer clock_;
  qint64 last_ = 0;
  double waited_ = 0, worst_ = 0, worst_raw_ = 0;
  int ticks_ = 0;
};
}  // namespace

class ResponsivenessTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void jobsRunBelowTheUiThreadsPriority() {
#ifdef __linux__
    JobRunner runner;
    QSignalSpy idle(&runner, &JobRunner::idle);
    int nice = 0;
    runner.submit({QStringLiteral("probe"),
                   [&nice](JobContext&) {
                     nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
                   },
                   {}});
    QVERIFY(idle.wait(10000));
    QCOMPARE(nice, 10);
#else
    QSKIP("thread nice values are Linux's");
#endif
  }

  void windowStaysResponsiveWhileModelsOpen() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow window(settings);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy ready(&window, &MainWindow::weightStatisticsReady);
    LatenessProbe probe;
    QElapsedTimer busy;
    busy.start();
    // Several models and several statistics passes, with a layer shown so its plots redraw as
    // statistics arrive.
    for (const char* model : {"sotu-llama", "sotu-mamba2", "mnist-vit", "sotu-llama"}) {
      window.openModel(test::demo(QString::fromLatin1(model)));
      QVERIFY(ready.wait(120000));
      window.layers()->selectLayer(QString::fromStdString(window.session()->layer(1).name));
      window.computeWeightStatistics();
      QVERIFY(ready.wait(120000));
    }
    qInfo("%lld ms of jobs: %s", busy.elapsed(), qPrintable(probe.report()));
    QVERIFY2(probe.ticks() > busy.elapsed() / (4 * kTickMs), "the timer kept firing");
    QVERIFY2(probe.worst() <= kMaxLatenessMs, qPrintable(probe.report()));
  }

  // A compress + evaluate run: loading, calibrating, quantizing, measuring and evaluating on the
  // job thread, then its per-layer results and the after-compression statistics applied to the
  // table, the detail pane and the experiments list on the UI thread.
  void windowStaysResponsiveDuringACompressRun() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow window(settings);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy ready(&window, &MainWindow::weightStatisticsReady);
    window.openModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(ready.wait(120000));
    window.recipeEditor()->applyPreset(QStringLiteral("W8A8"));
    QVERIFY(window.recipe().valid());
    window.layers()->selectLayer(QStringLiteral("model.layers.1.mlp.up_proj"));
    RunDialog* dialog = window.startRun(RunDialog::Kind::Compress);
    QVERIFY(dialog);
    dialog->findChild<QLineEdit*>(QStringLiteral("calibration"))->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    dialog->findChild<QSpinBox*>(QStringLiteral("calibSamples"))->setValue(8);
    dialog->findChild<QSpinBox*>(QStringLiteral("seq"))->setValue(128);
    dialog->findChild<QLineEdit*>(QStringLiteral("evaluation"))->setText(test::demo(QStringLiteral("sotu-2000-2023.txt")));
    dialog->findChild<QSpinBox*>(QStringLiteral("ctx"))->setValue(128);
    dialog->findChild<QSpinBox*>(QStringLiteral("evalWindows"))->setValue(8);
    QSignalSpy recorded(&window, &MainWindow::runRecorded);
    LatenessProbe probe;
    QElapsedTimer busy;
    busy.start();
    dialog->accept();
    QVERIFY(recorded.wait(240000));
    QTest::qWait(200);  // the table, the detail pane and the list redraw with the results
    qInfo("%lld ms of compress run: %s", busy.elapsed(), qPrintable(probe.report()));
    QVERIFY2(probe.ticks() > busy.elapsed() / (4 * kTickMs), "the timer kept firing");
    QVERIFY2(probe.worst() <= kMaxLatenessMs, qPrintable(probe.report()));
  }

  // A calibration of every point of sotu-mamba2 (scan internals included), then its statistics,
  // arrays and all, applied to the table's activation columns and the shown Activations page.
  void windowStaysResponsiveDuringACalibration() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow window(settings);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QSignalSpy ready(&window, &MainWindow::weightStatisticsReady);
    window.openModel(test::demo(QStringLiteral("sotu-mamba2")));
    QVERIFY(ready.wait(120000));
    window.layers()->selectLayer(QStringLiteral("backbone.layers.3.mixer.out_proj"));
    window.detail()->tabs()->setCurrentWidget(window.activationPage());
    RunDialog* dialog = window.startRun(RunDialog::Kind::Calibrate);
    QVERIFY(dialog);
    dialog->findChild<QLineEdit*>(QStringLiteral("calibration"))->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    dialog->findChild<QSpinBox*>(QStringLiteral("calibSamples"))->setValue(16);
    dialog->findChild<QSpinBox*>(QStringLiteral("seq"))->setValue(128);
    QSignalSpy recorded(&window, &MainWindow::runRecorded);
    LatenessProbe probe;
    QElapsedTimer busy;
    busy.start();
    dialog->accept();
    QVERIFY(recorded.wait(240000));
    QTest::qWait(200);
    QVERIFY(window.activationPage()->histogram()->hasData());  // the page did redraw with the results
    qInfo("%lld ms of calibration: %s", busy.elapsed(), qPrintable(probe.report()));
    QVERIFY2(probe.ticks() > busy.elapsed() / (4 * kTickMs), "the timer kept firing");
    QVERIFY2(probe.worst() <= kMaxLatenessMs, qPrintable(probe.report()));
  }

  void floodingJobDoesNotStallTheUi() {
    JobRunner runner;
    QSignalSpy idle(&runner, &JobRunner::idle);
    LatenessProbe probe;
    int posted = 0;
    runner.submit({QStringLiteral("flood"),
                   [&posted](JobContext& ctx) {
                     QElapsedTimer t;
                     t.start();
                     for (int64_t i = 0; t.elapsed() < 3000; ++i) {
                       ctx.check_cancelled();
                       ctx.progress(i, 1000000000, QStringLiteral("step %1").arg(i));
                       if (i % 1000 == 0) ctx.post([&posted] { ++posted; });
                     }
                   },
                   {}});
    QVERIFY(idle.wait(60000));
    qInfo("%d partial results: %s", posted, qPrintable(probe.report()));
    QVERIFY(posted > 10);
    QVERIFY2(probe.worst() <= kMaxLatenessMs, qPrintable(probe.report()));
  }
};

QTEST_MAIN(ResponsivenessTest)
#include "responsiveness_test.moc"
