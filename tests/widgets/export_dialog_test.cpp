// File → Export Compressed Model… through the real window: open the bundled sotu-llama, set the
// recipe to Q4_0, open the export dialog from the File menu, choose GGUF and a file in a temporary
// folder, fill the calibration with small counts, and run: the compress job writes a .gguf file
// (magic "GGUF") and records the experiment with the file as its artifact. With a W8A8 recipe the
// dialog's check line names the refusal (activation quantization) and Export stays disabled; a
// target that exists needs "replace existing". With QUENCH_SCREENSHOT_DIR set the dialog is saved
// there as export-dialog.png (ready) and export-dialog-refused.png (W8A8), as in docs/screenshots,
// and the window comparing the exported checkpoint with its float parent as checkpoint-diff.png.
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QtTest>

#include "core/compress/recipe.h"
#include "core/store/store.h"
#include "test_support.h"
#include "widgets/detail/parent_page.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/plots/channel_plot.h"
#include "widgets/session/model_session.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/runs/export_dialog.h"
#include "widgets/window/file_actions.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

using namespace quench::gui;
using test::child;

namespace {
constexpr int kRunTimeoutMs = 240000;

void setRecipe(MainWindow& w, const char* scheme) {
  const auto r = quench::Recipe::from_name(scheme);
  QVERIFY2(r, scheme);
  w.recipe().change(r->json, QStringLiteral("test: %1").arg(QString::fromLatin1(scheme)));
  QVERIFY(w.recipe().valid());
}

ExportDialog* openFromMenu(MainWindow& w) {
  QAction* a = w.findChild<QAction*>(QStringLiteral("exportModel"));
  if (!a || !a->isEnabled()) return nullptr;
  a->trigger();
  ExportDialog* dialog = nullptr;
  for (ExportDialog* d : w.findChildren<ExportDialog*>())
    if (d->isVisible()) dialog = d;
  return dialog;
}

void chooseFormat(ExportDialog* d, const char* format) {
  auto* combo = child<QComboBox>(d, "exportFormat");
  QVERIFY(combo);
  const int i = combo->findData(QString::fromLatin1(format));
  QVERIFY(i >= 0);
  combo->setCurrentIndex(i);
}

void saveScreenshot(QWidget* w, const QString& name) {
  const QString dir = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR");
  if (dir.isEmpty()) return;
  QVERIFY2(w->grab().save(dir + QLatin1Char('/') + name), qPrintable(dir));
}
}  // namespace

class ExportDialogTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void exportsGgufFromTheFileMenu() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow w(settings);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QVERIFY(!w.findChild<QAction*>(QStringLiteral("exportModel"))->isEnabled());  // no model yet
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(ready.wait(kRunTimeoutMs));
    setRecipe(w, "Q4_0");

    ExportDialog* d = openFromMenu(w);
    QVERIFY(d);
    chooseFormat(d, "gguf");
    const QString out = dir.filePath(QStringLiteral("sotu-llama-Q4_0.gguf"));
    child<QLineEdit>(d, "exportPath")->setText(out);
    child<QLineEdit>(d, "calibration")->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    child<QSpinBox>(d, "calibSamples")->setValue(8);
    child<QSpinBox>(d, "seq")->setValue(128);
    child<QSpinBox>(d, "measureSamples")->setValue(4);
    child<QCheckBox>(d, "evaluate")->setChecked(false);
    child<QLineEdit>(d, "runName")->setText(QStringLiteral("q4_0 export"));
    QVERIFY2(d->refusal().isEmpty(), qPrintable(d->refusal()));
    QVERIFY(d->exportButton()->isEnabled());
    QVERIFY(child<QComboBox>(d, "floatType")->isEnabled());
    saveScreenshot(d, QStringLiteral("export-dialog.png"));

    QSignalSpy recorded(&w, &MainWindow::runRecorded);
    QSignalSpy finished(&w.jobs(), &JobRunner::finished);
    QTest::mouseClick(d->exportButton(), Qt::LeftButton);
    QVERIFY(recorded.wait(kRunTimeoutMs));
    QCOMPARE(recorded.first().at(1).toString(), QStringLiteral("compress"));
    QFile f(out);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(out));
    QCOMPARE(f.read(4), QByteArray("GGUF"));
    QVERIFY(f.size() > 100000);
    const quench::Store store = quench::Store::open(dir.filePath(QStringLiteral("quench.db")).toStdString());
    const quench::ExperimentDetail det = store.get(recorded.first().at(0).toLongLong());
    QCOMPARE(det.summary.name, std::string("q4_0 export"));
    bool artifact = false;
    for (const auto& a : det.artifacts) artifact = artifact || a.kind == "gguf";
    QVERIFY(artifact);
    // The next plain compress run does not inherit the export.
    QVERIFY(w.runSettings().export_format.isEmpty());

    // Again to the same file: refused until "replace existing" is checked.
    d = openFromMenu(w);
    QVERIFY(d);
    QCOMPARE(child<QComboBox>(d, "exportFormat")->currentData().toString(), QStringLiteral("gguf"));  // remembered
    QCOMPARE(child<QLineEdit>(d, "exportPath")->text(), out);
    QVERIFY2(d->refusal().contains(QStringLiteral("exists")), qPrintable(d->refusal()));
    QVERIFY(!d->exportButton()->isEnabled());
    child<QCheckBox>(d, "exportForce")->setChecked(true);
    QVERIFY2(d->refusal().isEmpty(), qPrintable(d->refusal()));
    QVERIFY(d->exportButton()->isEnabled());

    // A W8A8 recipe (the editor's, changed while the dialog is open): GGUF cannot hold activation
    // quantization, so the check says why in red and Export is disabled.
    setRecipe(w, "W8A8");
    QVERIFY2(d->refusal().contains(QStringLiteral("activation quantization")), qPrintable(d->refusal()));
    QVERIFY(!d->exportButton()->isEnabled());
    auto* check = child<QLabel>(d, "exportCheck");
    QVERIFY(check->isVisible());
    QCOMPARE(check->text(), d->refusal());
    QVERIFY(check->styleSheet().contains(QStringLiteral("#cf222e")));
    saveScreenshot(d, QStringLiteral("export-dialog-refused.png"));
    d->reject();
  }

  // Opened directly on a W8A8 recipe: refused from the start; the float-safetensors format cannot
  // hold activation quantization either, and the float type is GGUF's only.
  void refusesW8a8ForGguf() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow w(settings);
    w.show();
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(ready.wait(kRunTimeoutMs));
    setRecipe(w, "W8A8");
    ExportDialog* d = openFromMenu(w);
    QVERIFY(d);
    chooseFormat(d, "gguf");
    child<QLineEdit>(d, "exportPath")->setText(dir.filePath(QStringLiteral("w8a8.gguf")));
    child<QLineEdit>(d, "calibration")->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    QVERIFY2(d->refusal().startsWith(QStringLiteral("GGUF cannot hold this recipe")), qPrintable(d->refusal()));
    QVERIFY2(d->refusal().contains(QStringLiteral("activation quantization")), qPrintable(d->refusal()));
    QVERIFY(!d->exportButton()->isEnabled());
    chooseFormat(d, "safetensors");
    QVERIFY(!child<QComboBox>(d, "floatType")->isEnabled());
    QVERIFY(!d->exportButton()->isEnabled());
    chooseFormat(d, "compressed-tensors");
    // vLLM runs W8A8 (int-quantized, dynamic per-token activations): allowed or refused, the
    // button follows the check line.
    QCOMPARE(d->exportButton()->isEnabled(), d->refusal().isEmpty());
    d->reject();
  }

  // compressed-tensors: a directory (its suggestion follows the format), W8A16 (int-quantized
  // weights, per channel) written as a checkpoint vLLM loads: config.json with its
  // quantization_config, and the safetensors beside it.
  void exportsCompressedTensors() {
    QTemporaryDir dir;
    Settings settings(dir.filePath(QStringLiteral("settings.ini")));
    MainWindow w(settings);
    w.show();
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(ready.wait(kRunTimeoutMs));
    setRecipe(w, "W8A16");
    ExportDialog* d = openFromMenu(w);
    QVERIFY(d);
    chooseFormat(d, "gguf");
    QVERIFY(child<QLineEdit>(d, "exportPath")->text().endsWith(QStringLiteral(".gguf")));
    chooseFormat(d, "compressed-tensors");
    QVERIFY(!child<QLineEdit>(d, "exportPath")->text().endsWith(QStringLiteral(".gguf")));  // the suggestion follows
    QVERIFY(!child<QComboBox>(d, "floatType")->isEnabled());
    const QString out = dir.filePath(QStringLiteral("sotu-llama-w8a16-ct"));
    child<QLineEdit>(d, "exportPath")->setText(out);
    child<QLineEdit>(d, "calibration")->setText(test::demo(QStringLiteral("sotu-calib.txt")));
    child<QSpinBox>(d, "calibSamples")->setValue(8);
    child<QSpinBox>(d, "seq")->setValue(128);
    child<QSpinBox>(d, "measureSamples")->setValue(0);
    child<QCheckBox>(d, "evaluate")->setChecked(false);
    QVERIFY2(d->refusal().isEmpty(), qPrintable(d->refusal()));
    QVERIFY(d->settings().export_float_type.isEmpty());
    QSignalSpy recorded(&w, &MainWindow::runRecorded);
    QTest::mouseClick(d->exportButton(), Qt::LeftButton);
    QVERIFY(recorded.wait(kRunTimeoutMs));
    QFile config(out + QStringLiteral("/config.json"));
    QVERIFY2(config.open(QIODevice::ReadOnly), qPrintable(out));
    QVERIFY(config.readAll().contains("quantization_config"));
    QVERIFY(!QDir(out).entryList({QStringLiteral("*.safetensors")}, QDir::Files).isEmpty());

    // Open what was written and compare it with its float parent (Model → Compare with Float
    // Model): the SQNR column gets each layer's weight SQNR against the parent, the embedding
    // (kept) is exact, and the "vs Float Model" page names the stored scheme and the worst channels.
    QSignalSpy reopened(&w, &MainWindow::weightStatisticsReady);
    w.openModel(out);
    QVERIFY(reopened.wait(kRunTimeoutMs));
    QVERIFY(w.findChild<QAction*>(QStringLiteral("compareFloat"))->isEnabled());
    QSignalSpy compared(&w, &MainWindow::floatComparisonReady);
    w.compareWithFloatModel(test::demo(QStringLiteral("sotu-llama")));
    QVERIFY(compared.wait(kRunTimeoutMs));
    const quench::gui::ModelSession* session = w.session();
    QVERIFY(session->hasParent());
    auto* table = w.layers()->model();
    auto sqnr = [&](const char* layer) {
      const int row = session->rowOf(layer);
      return row < 0 ? QString() : table->data(table->index(row, LayerTableModel::ErrorColumn), Qt::DisplayRole).toString();
    };
    QCOMPARE(sqnr("model.embed_tokens"), QStringLiteral("exact"));
    bool ok = false;
    const double q_proj = sqnr("model.layers.0.self_attn.q_proj").toDouble(&ok);
    QVERIFY2(ok && q_proj > 30 && q_proj < 60, qPrintable(sqnr("model.layers.0.self_attn.q_proj")));  // int8 per channel
    QVERIFY(w.showLayer(QStringLiteral("model.layers.0.mlp.down_proj")));
    const QString numbers = w.parentPage()->numbersText();
    QVERIFY2(numbers.contains(QStringLiteral("stored as int8 channel")) && numbers.contains(QStringLiteral("weight SQNR")),
             qPrintable(numbers));
    QCOMPARE(w.parentPage()->channelError()->outlierCount(), 5);  // the worst channels, marked
    QVERIFY(w.parentPage()->isVisible());
    QTest::qWait(100);  // plots replot on the next event loop pass
    saveScreenshot(&w, QStringLiteral("checkpoint-diff.png"));

    // The wrong folder: a model without these layers is refused by name, in the Issues dock.
    QSignalSpy failed(&w.jobs(), &JobRunner::finished);
    w.compareWithFloatModel(test::demo(QStringLiteral("sotu-mamba2")));
    QVERIFY(failed.wait(kRunTimeoutMs));
    QCOMPARE(failed.first().at(2).value<JobRunner::Outcome>(), JobRunner::Outcome::Failed);
    QVERIFY2(failed.first().at(3).toString().contains(QStringLiteral("has no layer model.embed_tokens")),
             qPrintable(failed.first().at(3).toString()));
  }
};

QTEST_MAIN(ExportDialogTest)
#include "export_dialog_test.moc"
