// Run → Sweep… through the real window: open sotu-llama, open the dialog from the Run menu, ask
// for two schemes, a one-point grid and the sensitivity of the MLP layers in two chunks, check
// Plan, Start (here, one task after another through the real quench-cli), and wait: every task
// completes, and the store holds each recipe's run and one merged sensitivity run, collected while
// the sweep ran, which the Experiments tab shows. A broken description names the field. With QUENCH_SCREENSHOT_DIR set the finished
// dialog is saved there as sweep-dialog.png.
#include <QCheckBox>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableWidget>
#include <QPlainTextEdit>
#include <QtTest>

#include <algorithm>

#include "core/store/store.h"
#include "test_support.h"
#include "widgets/experiments/experiment_list_model.h"
#include "widgets/experiments/experiments_panel.h"
#include "widgets/runs/sweep_dialog.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

using namespace quench::gui;
using test::child;

namespace {
constexpr int kTimeoutMs = 240000;

}  // namespace

class SweepDialogTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() { qputenv("QUENCH_CLI", QUENCH_CLI_PATH); }

  void runsASweepFromTheRunMenuAndCollectsIt() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow w(settings);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(ready.wait(kTimeoutMs));

    QAction* action = w.findChild<QAction*>(QStringLiteral("runSweep"));
    QVERIFY(action);
    action->trigger();
    SweepDialog* d = nullptr;
    for (SweepDialog* x : w.findChildren<SweepDialog*>())
      if (x->isVisible()) d = x;
    QVERIFY(d);

    child<QLineEdit>(d, "sweepName")->setText(QStringLiteral("gui"));
    const QString folder = dir.filePath(QStringLiteral("sweep"));
    child<QLineEdit>(d, "sweepFolder")->setText(folder);
    child<QCheckBox>(d, "useEditorRecipe")->setChecked(false);
    child<QLineEdit>(d, "schemes")->setText(QStringLiteral("W8A16, W4A16-G16"));
    child<QLineEdit>(d, "gridBits")->setText(QStringLiteral("3"));
    child<QLineEdit>(d, "gridGroups")->setText(QStringLiteral("x"));
    child<QLineEdit>(d, "calibration")->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    child<QSpinBox>(d, "calibSamples")->setValue(4);
    child<QSpinBox>(d, "seq")->setValue(64);
    child<QLineEdit>(d, "evaluation")->setText(test::demo(QStringLiteral("sotu-2000-2023.txt")));
    child<QSpinBox>(d, "ctx")->setValue(64);
    child<QSpinBox>(d, "evalWindows")->setValue(4);
    child<QGroupBox>(d, "sweepSensitivity")->setChecked(true);
    child<QLineEdit>(d, "sensitivitySetting")->setText(QStringLiteral("W4A16-G16"));
    child<QSpinBox>(d, "sensitivityChunks")->setValue(2);

    // A bad field is named, and nothing starts.
    QTest::mouseClick(child<QPushButton>(d, "sweepPlan"), Qt::LeftButton);
    auto* status = child<QLabel>(d, "sweepStatus");
    QVERIFY2(status->text().contains(QStringLiteral("Grid: group sizes")), qPrintable(status->text()));
    child<QLineEdit>(d, "gridGroups")->setText(QStringLiteral("16"));

    QTest::mouseClick(child<QPushButton>(d, "sweepPlan"), Qt::LeftButton);
    auto* tasks = child<QTableWidget>(d, "sweepTasks");
    QVERIFY2(status->text().contains(QStringLiteral("5 task")), qPrintable(status->text()));
    QCOMPARE(tasks->rowCount(), 5);
    QCOMPARE(tasks->item(2, 1)->text(), QStringLiteral("gui/w3-g16-rtn"));

    QSignalSpy done(d, &SweepDialog::finishedAll);
    QTest::mouseClick(child<QPushButton>(d, "sweepStart"), Qt::LeftButton);
    QVERIFY(done.wait(kTimeoutMs));
    for (int r = 0; r < tasks->rowCount(); ++r) QCOMPARE(tasks->item(r, 2)->text(), QStringLiteral("completed"));
    QVERIFY2(status->text().contains(QStringLiteral("4 experiment")), qPrintable(status->text()));

    const quench::Store store = quench::Store::open(settings.databasePath().toStdString());
    std::vector<std::string> names;
    for (const auto& e : store.list()) names.push_back(e.name);
    std::sort(names.begin(), names.end());
    QCOMPARE(names, (std::vector<std::string>{"gui/W4A16-G16", "gui/W8A16", "gui/sensitivity W4A16-G16", "gui/w3-g16-rtn"}));

    // The Experiments tab shows them, without a reload by hand (it polls the store).
    QTRY_COMPARE_WITH_TIMEOUT(w.experiments()->model()->rowCount(), 4, 10000);

    // Selecting a task shows its log.
    tasks->selectRow(0);
    QVERIFY(child<QPlainTextEdit>(d, "sweepOutput")->toPlainText().contains(QStringLiteral("task-0.log")));
    const QString shots = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(d->grab().save(shots + QStringLiteral("/sweep-dialog.png")));
  }
};

QTEST_MAIN(SweepDialogTest)
#include "sweep_dialog_test.moc"
