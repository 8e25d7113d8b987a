// The window's run jobs on image models, through the JobRunner as the window submits them: an
// image model calibrated on the bundled MNIST images records a calibrate experiment and hands back
// every point's statistics with their arrays; the baseline evaluation and compress + evaluate
// (W8A8 on mnist-resnet) record top-1; sensitivity ranks the CNN's layers by top-1; a missing file
// fails before anything is recorded; and cancelling marks the run cancelled and hands nothing back.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "core/store/store.h"
#include "test_support.h"
#include "widgets/jobs/job_context.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/recipe/recipe_edits.h"
#include "widgets/runs/run_jobs.h"

using namespace quench::gui;
using Outcome = JobRunner::Outcome;

class CalibrateJobTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void calibratesAnImageModel() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("mnist-vit"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.calibration = test::demo(QStringLiteral("mnist/calib-images-idx3-ubyte.gz"));
    s.calib_samples = 16;
    s.points = QStringLiteral("vit.encoder.layer.0.*:input");
    std::shared_ptr<RunOutcome> out;
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.submit(calibrateJob(s, [&out](std::shared_ptr<RunOutcome> o) { out = std::move(o); }));
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Succeeded);
    QVERIFY(out);
    QCOMPARE(out->kind, quench::RunKind::Calibrate);
    QVERIFY(!out->activations.empty());
    for (const auto& p : out->activations) {
      QVERIFY2(p.point.rfind("vit.encoder.layer.0.", 0) == 0 && p.point.find(":input") != std::string::npos, p.point.c_str());
      QVERIFY(p.absmax && std::isfinite(*p.absmax) && *p.absmax > 0);
      QVERIFY(p.arrays.count("hist_counts") && p.arrays.count("channel_absmax"));
    }
    const quench::Store store = quench::Store::open(s.database.toStdString());
    const quench::ExperimentDetail d = store.get(out->experiment_id);
    QCOMPARE(d.summary.kind, quench::RunKind::Calibrate);
    QCOMPARE(d.recipe["calibrate"]["samples"].get<int64_t>(), int64_t{16});
    QCOMPARE(d.datasets.at(0).dataset.kind, std::string("images"));
  }

  // The baseline evaluation of an image model: top-1 / top-5 on the bundled MNIST test images.
  void evaluatesAnImageModel() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("mnist-resnet"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.evaluation = test::demo(QStringLiteral("mnist/test-images-idx3-ubyte.gz"));
    s.evaluation_labels = test::demo(QStringLiteral("mnist/test-labels-idx1-ubyte.gz"));
    s.eval_windows = 200;  // images
    std::shared_ptr<RunOutcome> out;
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.submit(evaluateJob(s, [&out](std::shared_ptr<RunOutcome> o) { out = std::move(o); }));
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Succeeded);
    QVERIFY(out);
    const double top1 = out->metrics["top1"].get<double>(), top5 = out->metrics["top5"].get<double>();
    QVERIFY2(top1 > 0.8 && top1 <= top5 && top5 <= 1.0, qPrintable(QString::number(top1)));  // the demo CNN is ~98% accurate
    const quench::Store store = quench::Store::open(s.database.toStdString());
    const quench::ExperimentDetail d = store.get(out->experiment_id);
    QCOMPARE(d.summary.kind, quench::RunKind::Evaluate);
    QCOMPARE(d.recipe["eval"]["max_images"].get<int64_t>(), int64_t{200});
    // Without the labels the job refuses, naming what is missing.
    s.evaluation_labels.clear();
    QSignalSpy again(&runner, &JobRunner::finished);
    runner.submit(evaluateJob(s, [](std::shared_ptr<RunOutcome>) {}));
    QVERIFY(again.wait(120000));
    QCOMPARE(again.first().at(2).value<Outcome>(), Outcome::Failed);
    QVERIFY2(again.first().at(3).toString().contains(QStringLiteral("labels")), qPrintable(again.first().at(3).toString()));
  }

  // Compress + evaluate of an image model, as quench-cli compress --calib-images --eval-images does:
  // W8A8 on the CNN's conv layers, recorded with top-1 on the labelled MNIST test images.
  void compressesAndEvaluatesAnImageModel() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("mnist-resnet"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.calibration = test::demo(QStringLiteral("mnist/calib-images-idx3-ubyte.gz"));
    s.calib_samples = 32;
    s.measure_samples = 8;
    s.evaluation = test::demo(QStringLiteral("mnist/test-images-idx3-ubyte.gz"));
    s.evaluation_labels = test::demo(QStringLiteral("mnist/test-labels-idx1-ubyte.gz"));
    s.eval_windows = 128;  // images
    std::shared_ptr<RunOutcome> out;
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.submit(compressJob(s, presetRecipe(QStringLiteral("W8A8")), [&out](std::shared_ptr<RunOutcome> o) { out = std::move(o); }));
    QVERIFY(finished.wait(180000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Succeeded);
    QVERIFY(out);
    QCOMPARE(out->kind, quench::RunKind::Compress);
    QVERIFY(out->metrics.contains("top1"));
    const double top1 = out->metrics["top1"].get<double>();
    QVERIFY2(top1 > 0.8 && top1 <= 1.0, qPrintable(QString::number(top1)));  // W8A8 keeps the ~98% CNN close
    QVERIFY(!out->layers.empty());
    QCOMPARE(out->layers.front().kind, std::string("conv2d"));
    QVERIFY(!out->after.empty());
    const quench::Store store = quench::Store::open(s.database.toStdString());
    const quench::ExperimentDetail d = store.get(out->experiment_id);
    QCOMPARE(d.summary.kind, quench::RunKind::Compress);
    bool recorded_top1 = false;
    for (const auto& m : d.metrics) recorded_top1 = recorded_top1 || (m.name == "top1" && std::abs(m.value - top1) < 1e-12);
    QVERIFY(recorded_top1);
    for (const auto& ds : d.datasets) QCOMPARE(ds.dataset.kind, std::string("images"));
    // Text calibration for an image model fails naming the file, and records nothing more.
    s.calibration = test::demo(QStringLiteral("sotu-calib.txt"));
    QSignalSpy again(&runner, &JobRunner::finished);
    runner.submit(compressJob(s, presetRecipe(QStringLiteral("W8A8")), [](std::shared_ptr<RunOutcome>) {}));
    QVERIFY(again.wait(120000));
    QCOMPARE(again.first().at(2).value<Outcome>(), Outcome::Failed);
    QVERIFY2(again.first().at(3).toString().contains(QStringLiteral("sotu-calib.txt")), qPrintable(again.first().at(3).toString()));
    QCOMPARE(store.list({}).size(), size_t{1});
  }

  // Per-layer sensitivity of an image model, ranked by the drop in top-1.
  void ranksAnImageModel() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("mnist-resnet"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.evaluation = test::demo(QStringLiteral("mnist/test-images-idx3-ubyte.gz"));
    s.evaluation_labels = test::demo(QStringLiteral("mnist/test-labels-idx1-ubyte.gz"));
    s.eval_windows = 64;
    s.candidates = QStringLiteral("W8A4");  // 8-bit per-channel weights: no group size the 49-input stem cannot take
    s.metric = QStringLiteral("top1");
    std::shared_ptr<RunOutcome> out;
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    runner.submit(sensitivityJob(s, [&out](std::shared_ptr<RunOutcome> o) { out = std::move(o); }));
    QVERIFY(finished.wait(180000));
    QVERIFY2(finished.first().at(2).value<Outcome>() == Outcome::Succeeded, qPrintable(finished.first().at(3).toString()));
    QVERIFY(out);
    QVERIFY(out->ranking.size() > 1);
    QVERIFY(out->metrics["base"].get<double>() > 0.8);  // top-1 of the float CNN
    const quench::Store store = quench::Store::open(s.database.toStdString());
    QCOMPARE(store.get(out->experiment_id).summary.kind, quench::RunKind::Sensitivity);
  }

  void aMissingFileFailsBeforeRecording() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("sotu-llama"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.calibration = dir.filePath(QStringLiteral("nowhere.txt"));
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    bool done = false;
    runner.submit(calibrateJob(s, [&done](std::shared_ptr<RunOutcome>) { done = true; }));
    QVERIFY(finished.wait(60000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Failed);
    QVERIFY2(finished.first().at(3).toString().contains(QStringLiteral("nowhere.txt")), qPrintable(finished.first().at(3).toString()));
    QVERIFY(!done);
    QVERIFY(!QFileInfo::exists(s.database));  // nothing opened, nothing recorded
  }

  void cancellingMarksTheRunCancelled() {
    QTemporaryDir dir;
    RunSettings s;
    s.model_dir = test::demo(QStringLiteral("sotu-llama"));
    s.database = dir.filePath(QStringLiteral("runs.db"));
    s.calibration = test::demo(QStringLiteral("sotu-calib.txt"));
    s.calib_samples = 512;  // long enough to be cancelled while it runs
    s.seq = 256;
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::finished);
    QSignalSpy progressed(&runner, &JobRunner::progressed);
    bool done = false;
    runner.submit(calibrateJob(s, [&done](std::shared_ptr<RunOutcome>) { done = true; }));
    // Cancel once the calibration itself reports progress (the run is recorded by then).
    QTRY_VERIFY_WITH_TIMEOUT(progressed.count() > 1, 120000);
    runner.cancelAll();
    QVERIFY(finished.wait(120000));
    QCOMPARE(finished.first().at(2).value<Outcome>(), Outcome::Cancelled);
    QVERIFY(!done);
    const quench::Store store = quench::Store::open(s.database.toStdString());
    const auto runs = store.list({});
    QCOMPARE(runs.size(), size_t{1});
    QCOMPARE(runs.front().status, quench::RunStatus::Cancelled);
  }
};

QTEST_MAIN(CalibrateJobTest)
#include "calibrate_job_test.moc"
