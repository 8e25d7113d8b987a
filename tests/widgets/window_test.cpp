// The real window code path: open the bundled sotu-llama as a user would (menu action's slot,
// drag and drop, the command line), see its summary and layers, select a layer, and get errors
// as a dialog and an issue instead of a crash.
#include <QCheckBox>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QLabel>
#include <QFile>
#include <QScrollBar>
#include <QTabWidget>
#include <QTreeWidget>
#include <QtTest>

#include <chrono>
#include <thread>

#include "core/models/registry.h"
#include "core/store/store.h"
#include "core/util/error.h"
#include "test_support.h"
#include "widgets/detail/activation_page.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/detail/weight_page.h"
#include "widgets/generate/generate_panel.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/jobs/job_context.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/jobs/log_pane.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/model_tree.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/plots/channel_plot.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/plots/range_plot.h"
#include "widgets/recipe/model_wide_box.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/runs/run_dialog.h"
#include "widgets/session/model_session.h"
#include "widgets/window/help_actions.h"
#include "widgets/window/launch.h"
#include "widgets/window/main_window.h"
#include "widgets/window/preferences_dialog.h"
#include "widgets/window/settings.h"
#include "widgets/window/summary_panel.h"

using namespace quench::gui;

namespace {
constexpr int kJobTimeoutMs = 120000;

QStringList tableNames(const MainWindow& w) {
  const QAbstractItemModel* m = w.layers()->view()->model();
  QStringList names;
  for (int r = 0; r < m->rowCount(); ++r) names << m->index(r, LayerTableModel::NameColumn).data().toString();
  return names;
}
}  // namespace

class WindowTest : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir dir_;
  std::unique_ptr<Settings> settings_;
  std::unique_ptr<MainWindow> window_;

  bool openAndWait(MainWindow& w, const QString& model) {
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(model);
    return ready.wait(kJobTimeoutMs);
  }

 private Q_SLOTS:
  void init() {
    settings_ = std::make_unique<Settings>(dir_.filePath(QStringLiteral("settings.ini")));
    settings_->clearRecentModels();
    window_ = std::make_unique<MainWindow>(*settings_);
    window_->show();
    QVERIFY(QTest::qWaitForWindowExposed(window_.get()));
  }
  void cleanup() { window_.reset(); }

  // At 1024×700 the layer table is narrower than its columns: the statistics scroll sideways
  // while the layer name stays in place beside them, whole (its end is what tells layers apart).
  void theLayerNameStaysWhileTheStatisticsScroll() {
    MainWindow& w = *window_;
    w.resize(1024, 700);
    QVERIFY(openAndWait(w, test::demo(QStringLiteral("sotu-llama"))));
    QTableView* view = w.layers()->view();
    QTableView* names = w.layers()->frozenNames();
    QVERIFY(names->isVisible());
    QScrollBar* sideways = view->horizontalScrollBar();
    QVERIFY2(sideways->maximum() > 0, "the table fits: the test needs a narrower pane");
    // The side pane does not take the width: the issue saw four columns at this size.
    int whole = 0;
    for (int c = 0; c < view->model()->columnCount(); ++c)
      if (!view->isColumnHidden(c) && view->columnViewportPosition(c) >= 0 &&
          view->columnViewportPosition(c) + view->columnWidth(c) <= view->viewport()->width())
        ++whole;
    QVERIFY2(whole >= 5, qPrintable(QString::number(whole)));
    QVERIFY2(w.sideTabs()->width() < w.width() / 2, qPrintable(QString::number(w.sideTabs()->width())));
    QVERIFY(w.showLayer(QStringLiteral("model.layers.3.mlp.down_proj")));
    sideways->setValue(sideways->maximum());
    QCoreApplication::processEvents();
    // The frozen column sits at the table's left edge with the name column's width, on the row the table shows.
    QCOMPARE(names->geometry().left(), view->frameWidth());
    QCOMPARE(names->columnWidth(LayerTableModel::NameColumn), view->columnWidth(LayerTableModel::NameColumn));
    const QModelIndex current = names->model()->index(view->currentIndex().row(), LayerTableModel::NameColumn);
    QCOMPARE(current.data().toString(), QStringLiteral("model.layers.3.mlp.down_proj"));
    const QRect cell = names->visualRect(current);
    QVERIFY(names->viewport()->rect().contains(cell));
    QCOMPARE(cell.top(), view->visualRect(view->currentIndex()).top());  // the rows scroll together
    // The table's own name column went left under the frozen one, by the amount scrolled.
    QCOMPARE(view->columnViewportPosition(LayerTableModel::NameColumn), -sideways->value());
    QVERIFY(sideways->value() > 0);
    sideways->setValue(0);
    // Clicking a name in the frozen column selects that layer.
    const QModelIndex second = names->model()->index(1, LayerTableModel::NameColumn);
    QTest::mouseClick(names->viewport(), Qt::LeftButton, {}, names->visualRect(second).center());
    QCOMPARE(w.detail()->layer(), w.session()->rowOf(second.data().toString().toStdString()));
  }

  // View → Model Tree: the modules as a tree, layers as leaves, coloured by a table column; a
  // block shows its worst layer; clicking a layer selects it, the table's selection shows in it.
  void theModelTreeShowsTheModulesColouredByAStatistic() {
    MainWindow& w = *window_;
    QVERIFY(openAndWait(w, test::demo(QStringLiteral("sotu-llama"))));
    w.findChild<QAction*>(QStringLiteral("showModelTree"))->trigger();
    ModelTree* tree = w.modelTree();
    QCOMPARE(w.sideTabs()->currentWidget(), tree);
    QTreeWidgetItem* layers = tree->item(QStringLiteral("model.layers"));
    QVERIFY(layers);
    QCOMPARE(layers->childCount(), 6);  // the blocks
    QVERIFY(tree->item(QStringLiteral("model.embed_tokens")) && tree->item(QStringLiteral("lm_head")));
    QTreeWidgetItem* mlp = tree->item(QStringLiteral("model.layers.3.mlp"));
    QVERIFY(mlp);
    QCOMPARE(mlp->childCount(), 3);
    LayerTableModel* table = w.layers()->model();
    auto value = [&](const std::string& layer, int column) {
      return table->index(w.session()->rowOf(layer), column).data(LayerTableModel::SortRole).toDouble();
    };
    tree->setColourColumn(LayerTableModel::KurtosisColumn);
    QTreeWidgetItem* down = tree->item(QStringLiteral("model.layers.3.mlp.down_proj"));
    QCOMPARE(down->text(1), table->index(w.session()->rowOf("model.layers.3.mlp.down_proj"), LayerTableModel::KurtosisColumn).data().toString());
    // The model's most heavy-tailed layer is coloured as in the table.
    std::string hottest;
    double hottest_kurtosis = -1;
    for (int r = 0; r < w.session()->layerCount(); ++r)
      if (const double k = value(w.session()->layer(r).name, LayerTableModel::KurtosisColumn); k > hottest_kurtosis) hottest_kurtosis = k, hottest = w.session()->layer(r).name;
    const QColor heat = table->index(w.session()->rowOf(hottest), LayerTableModel::KurtosisColumn).data(Qt::BackgroundRole).value<QColor>();
    QVERIFY(heat.isValid());
    QCOMPARE(tree->item(QString::fromStdString(hottest))->background(1).color(), heat);
    // The block shows the largest kurtosis of its seven layers.
    double worst = 0;
    std::string worst_layer;
    for (const char* l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
      if (const double k = value(std::string("model.layers.3.") + l, LayerTableModel::KurtosisColumn); k > worst) worst = k, worst_layer = std::string("model.layers.3.") + l;
    QCOMPARE(tree->item(QStringLiteral("model.layers.3"))->text(1), tree->item(QString::fromStdString(worst_layer))->text(1));
    // Another column recolours and relabels.
    tree->setColourColumn(LayerTableModel::AbsmaxColumn);
    QCOMPARE(down->text(1), table->index(w.session()->rowOf("model.layers.3.mlp.down_proj"), LayerTableModel::AbsmaxColumn).data().toString());
    QCOMPARE(tree->tree()->headerItem()->text(1), tree->colourBy()->currentText());
    // Clicking a layer selects it; selecting in the table marks it in the tree.
    QTreeWidgetItem* q = tree->item(QStringLiteral("model.layers.1.self_attn.q_proj"));
    tree->tree()->scrollToItem(q);
    QTest::mouseClick(tree->tree()->viewport(), Qt::LeftButton, {}, tree->tree()->visualItemRect(q).center());
    QCOMPARE(w.detail()->layer(), w.session()->rowOf("model.layers.1.self_attn.q_proj"));
    QVERIFY(w.showLayer(QStringLiteral("model.layers.5.mlp.up_proj")));
    QCOMPARE(tree->tree()->currentItem(), tree->item(QStringLiteral("model.layers.5.mlp.up_proj")));
    // A module is not a layer: clicking it selects nothing new.
    tree->tree()->scrollToItem(layers);
    QTest::mouseClick(tree->tree()->viewport(), Qt::LeftButton, {}, tree->tree()->visualItemRect(layers).center());
    QCOMPARE(w.detail()->layer(), w.session()->rowOf("model.layers.5.mlp.up_proj"));
  }

  void opensTheDemoModel() {
    const QString dir = test::demo(QStringLiteral("sotu-llama"));
    QVERIFY(openAndWait(*window_, dir));
    MainWindow& w = *window_;
    QVERIFY(w.session());
    QCOMPARE(w.summary()->field(QStringLiteral("Architecture")), QStringLiteral("LlamaForCausalLM (text, 6 blocks)"));
    QVERIFY(w.summary()->field(QStringLiteral("Parameters")).startsWith(QLocale().toString(5401856)));
    QCOMPARE(w.summary()->field(QStringLiteral("Stored dtype")), QStringLiteral("bfloat16"));
    QCOMPARE(w.summary()->field(QStringLiteral("Compressible layers")), QStringLiteral("44"));
    QVERIFY(w.windowTitle().startsWith(QStringLiteral("sotu-llama")));

    // The table lists exactly the model's layers, in forward order.
    quench::LoadOptions opts;
    opts.materialize = false;
    const auto model = quench::load_model(dir.toStdString(), opts);
    QStringList expected;
    for (const auto& l : model->layers()) expected << QString::fromStdString(l->name());
    QCOMPARE(tableNames(w), expected);
    // Every layer got its statistics, shown in the table.
    QCOMPARE(w.session()->weightStatsCount(), 44);
    const QModelIndex kurt = w.layers()->view()->model()->index(5, LayerTableModel::KurtosisColumn);
    QVERIFY(!kurt.data().toString().isEmpty());

    // Selecting a layer fills the detail pane's plots with its statistics.
    QVERIFY(w.showLayer(QStringLiteral("model.layers.3.mlp.down_proj")));
    QCOMPARE(w.detail()->layer(), w.session()->rowOf("model.layers.3.mlp.down_proj"));
    QVERIFY(w.weightPage()->histogram()->hasData());
    QVERIFY(w.weightPage()->inputChannels()->hasData());
    QVERIFY(w.weightPage()->outputRanges()->hasData());
    QVERIFY2(w.weightPage()->numbersText().contains(QStringLiteral("kurtosis")), qPrintable(w.weightPage()->numbersText()));
    QVERIFY(!w.showLayer(QStringLiteral("model.layers.99.mlp.down_proj")));

    // Clicking a row does the same as selecting by name.
    QTableView* view = w.layers()->view();
    const QModelIndex first = view->model()->index(0, 0);
    view->scrollTo(first);
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, view->visualRect(first).center());
    QCOMPARE(w.detail()->layer(), 0);

    QCOMPARE(settings_->recentModels().value(0), QDir::cleanPath(QFileInfo(dir).absoluteFilePath()));
    QVERIFY(w.log()->toPlainText().contains(QStringLiteral("weight statistics: 44 layers")));
  }

  // The Generate tab continues the prompt with the open model as a job, text first, then the
  // speeds; an image model leaves the button off and says why.
  void theGenerateTabContinuesThePrompt() {
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("sotu-llama"))));
    GeneratePanel* g = window_->generatePanel();
    QVERIFY(g->generateButton()->isEnabled());
    g->findChild<QSpinBox*>(QStringLiteral("generateMaxNew"))->setValue(8);
    QTest::mouseClick(g->generateButton(), Qt::LeftButton);
    QVERIFY(!g->generateButton()->isEnabled());  // one generation at a time
    QTRY_VERIFY_WITH_TIMEOUT(g->status()->text().contains(QStringLiteral("tokens/s")), kJobTimeoutMs);
    QVERIFY2(g->status()->text().contains(QStringLiteral("8 new tokens")), qPrintable(g->status()->text()));
    const QString out = g->output()->toPlainText();
    QVERIFY(out.startsWith(g->prompt()));
    QVERIFY2(out.size() > g->prompt().size() + 8, qPrintable(out));
    QVERIFY(g->generateButton()->isEnabled());
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("mnist-vit"))));
    QVERIFY(!g->generateButton()->isEnabled());
    QVERIFY2(g->status()->text().contains(QStringLiteral("images")), qPrintable(g->status()->text()));
  }

  void filterBoxFiltersTheTable() {
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("sotu-llama"))));
    window_->layers()->focusFilter();
    QTest::keyClicks(window_->layers()->filter(), QStringLiteral("model.layers.*.mlp.*"));
    QCOMPARE(tableNames(*window_).size(), 18);
    // Jumping to a hidden layer clears the filter rather than failing.
    QVERIFY(window_->showLayer(QStringLiteral("lm_head")));
    QCOMPARE(tableNames(*window_).size(), 44);
  }

  void outliersBecomeIssuesThatJumpToTheirLayer() {
    QVERIFY(openAndWait(*window_, test::fixture(QStringLiteral("hf-tiny/llama-tiny"))));
    IssuesModel& issues = window_->issues();
    QVERIFY(issues.rowCount() >= 14);  // llama-tiny: planted outliers in every projection
    int row = -1;
    for (int r = 0; r < issues.rowCount(); ++r)
      if (issues.issue(r).layer == QLatin1String("model.layers.1.mlp.up_proj")) row = r;
    QVERIFY(row >= 0);
    auto* dock = window_->findChild<IssuesDock*>();
    window_->detail()->tabs()->setCurrentWidget(window_->activationPage());  // the jump brings the Weights page back
    Q_EMIT dock->view()->activated(issues.index(row, IssuesModel::MessageColumn));
    QCOMPARE(window_->detail()->layer(), window_->session()->rowOf("model.layers.1.mlp.up_proj"));
    QCOMPARE(window_->detail()->tabs()->currentWidget(), window_->weightPage());
    QVERIFY(window_->weightPage()->inputChannels()->outlierCount() >= 1);
  }

  // FLAP on a Mamba-2 model from the recipe editor's Model-wide box: the core's error is an issue
  // naming the key, Compress is refused, and undo clears it.
  void structuredPruningOutsideLlamaIsAnIssue() {
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("sotu-mamba2"))));
    auto* flap = window_->recipeEditor()->modelWide()->findChild<QCheckBox*>(QStringLiteral("flap"));
    QVERIFY(flap);
    flap->click();
    IssuesModel& issues = window_->issues();
    int row = -1;
    for (int r = 0; r < issues.rowCount(); ++r)
      if (issues.issue(r).severity == Issue::Severity::Error && issues.issue(r).message.contains(QStringLiteral("structured"))) row = r;
    QVERIFY2(row >= 0, "no issue for FLAP on Mamba-2");
    QVERIFY(!window_->startRun(RunDialog::Kind::Compress));
    auto* refusal = window_->findChild<QMessageBox*>(QStringLiteral("runErrorDialog"));
    QVERIFY(refusal && refusal->text().contains(QStringLiteral("structured")));
    refusal->close();
    window_->recipeEditor()->undoAction()->trigger();
    QVERIFY(window_->recipe().valid());
    QCOMPARE(issues.count(Issue::Severity::Error), 0);
  }

  void aBrokenFolderIsAnErrorNotACrash() {
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("sotu-llama"))));
    QTemporaryDir broken;
    QFile config(broken.filePath(QStringLiteral("config.json")));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(R"({"architectures": ["NoSuchModelForCausalLM"], "model_type": "nosuch"})");
    config.close();
    QVERIFY(QFile::copy(test::demo(QStringLiteral("mnist-resnet/model.safetensors")),
                        broken.filePath(QStringLiteral("model.safetensors"))));
    QSignalSpy finished(&window_->jobs(), &JobRunner::finished);
    window_->openModel(broken.path());
    QVERIFY(finished.wait(kJobTimeoutMs));
    QCOMPARE(finished.first().at(2).value<JobRunner::Outcome>(), JobRunner::Outcome::Failed);
    QVERIFY(finished.first().at(3).toString().contains(QStringLiteral("NoSuchModelForCausalLM")));
    QCOMPARE(window_->issues().count(Issue::Severity::Error), 1);
    auto* dialog = window_->findChild<QMessageBox*>(QStringLiteral("jobErrorDialog"));
    QVERIFY(dialog && dialog->isVisible());
    QVERIFY(dialog->text().contains(QStringLiteral("is not supported")));
    dialog->close();
    // The model that was open stays open.
    QVERIFY(window_->session());
    QCOMPARE(window_->session()->summary().name, QStringLiteral("sotu-llama"));
    // A folder that does not exist says so.
    finished.clear();
    window_->openModel(broken.filePath(QStringLiteral("missing")));
    QVERIFY(finished.wait(kJobTimeoutMs));
    QVERIFY(finished.first().at(3).toString().contains(QStringLiteral("missing")));
  }

  void dropAFolderToOpenIt() {
    const QString dir = test::demo(QStringLiteral("mnist-resnet"));
    QMimeData mime;
    mime.setUrls({QUrl::fromLocalFile(dir)});
    QSignalSpy ready(window_.get(), &MainWindow::weightStatisticsReady);
    const QPoint at = window_->rect().center();
    QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &drop);
    QVERIFY(ready.wait(kJobTimeoutMs));
    QCOMPARE(window_->session()->summary().architecture, QStringLiteral("ResNetForImageClassification"));
    // Anything but one local folder or file is refused at the door.
    QMimeData web;
    web.setUrls({QUrl(QStringLiteral("https://huggingface.co/some/model"))});
    QDragEnterEvent enter_web(at, Qt::CopyAction, &web, Qt::LeftButton, Qt::NoModifier);
    enter_web.setAccepted(false);
    QApplication::sendEvent(window_.get(), &enter_web);
    QVERIFY(!enter_web.isAccepted());
    // A dropped file inside a model folder opens the folder.
    QMimeData file;
    file.setUrls({QUrl::fromLocalFile(test::demo(QStringLiteral("mnist-vit/config.json")))});
    QDragEnterEvent enter_file(at, Qt::CopyAction, &file, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &enter_file);
    QVERIFY(enter_file.isAccepted());
    QDropEvent drop_file(at, Qt::CopyAction, &file, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(window_.get(), &drop_file);
    QVERIFY2(ready.wait(kJobTimeoutMs), qPrintable(window_->log()->toPlainText()));
    QCOMPARE(window_->session()->summary().architecture, QStringLiteral("ViTForImageClassification"));
    // Convolutions are layers like any other: their detail plots fill too.
    QVERIFY(openAndWait(*window_, dir));
    const int conv = [&] {
      for (int r = 0; r < window_->session()->layerCount(); ++r)
        if (window_->session()->layer(r).kind == quench::LayerKind::Conv2d) return r;
      return -1;
    }();
    QVERIFY(conv >= 0);
    QVERIFY(window_->showLayer(QString::fromStdString(window_->session()->layer(conv).name)));
    QVERIFY(window_->weightPage()->inputChannels()->hasData());
  }

  void launchOptions() {
    const LaunchOptions o = parseLaunchOptions({QStringLiteral("quench"), QStringLiteral("/m"), QStringLiteral("--select"),
                                                QStringLiteral("lm_head"), QStringLiteral("--size"), QStringLiteral("800x600"),
                                                QStringLiteral("--log-y"), QStringLiteral("--sort"), QStringLiteral("Kurtosis")});
    QCOMPARE(o.model, QStringLiteral("/m"));
    QCOMPARE(o.select, QStringLiteral("lm_head"));
    QCOMPARE(o.size, QSize(800, 600));
    QVERIFY(o.log_y);
    QCOMPARE(o.sort, QStringLiteral("Kurtosis"));
    QVERIFY_THROWS_EXCEPTION(quench::UsageError, parseLaunchOptions({QStringLiteral("quench"), QStringLiteral("a"), QStringLiteral("b")}));
    QVERIFY_THROWS_EXCEPTION(quench::UsageError,
                             parseLaunchOptions({QStringLiteral("quench"), QStringLiteral("--screenshot"), QStringLiteral("x.png")}));
    QVERIFY_THROWS_EXCEPTION(quench::UsageError, parseLaunchOptions({QStringLiteral("quench"), QStringLiteral("m"),
                                                                     QStringLiteral("--size"), QStringLiteral("big")}));
  }

  void launchOpensTheModelAndAppliesTheView() {
    LaunchOptions o;
    o.model = test::demo(QStringLiteral("sotu-llama"));
    o.select = QStringLiteral("model.layers.2.self_attn.q_proj");
    o.sort = QStringLiteral("Kurtosis");
    o.log_y = true;
    QSignalSpy idle(&window_->jobs(), &JobRunner::idle);
    launch(*window_, o);
    QVERIFY(idle.wait(kJobTimeoutMs));
    QCOMPARE(window_->detail()->layer(), window_->session()->rowOf("model.layers.2.self_attn.q_proj"));
    QVERIFY(window_->weightPage()->histogram()->logY());
    const QAbstractItemModel* m = window_->layers()->view()->model();
    QVERIFY(m->index(0, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).toDouble() >=
            m->index(1, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).toDouble());
  }

  void preferencesAreKept() {
    PreferencesDialog dialog(*settings_, window_.get());
    // Settings of their own keep a store of their own, beside the INI file; the user's default is quench-cli's.
    QCOMPARE(dialog.databaseEdit()->text(), dir_.filePath(QStringLiteral("quench.db")));
    QCOMPARE(Settings::defaultDatabasePath(), QString::fromStdString(quench::Store::default_path()));
    const QString db = dir_.filePath(QStringLiteral("runs/experiments.sqlite"));
    dialog.databaseEdit()->setText(db);
    dialog.calibrationEdit()->setText(dir_.filePath(QStringLiteral("no-such-file.txt")));
    dialog.accept();  // refused: the calibration set does not exist
    QCOMPARE(dialog.result(), int(QDialog::Rejected));
    QVERIFY(dialog.errorText().contains(QStringLiteral("no-such-file.txt")));
    const QString text = test::demo(QStringLiteral("sotu-llama/config.json"));
    dialog.calibrationEdit()->setText(text);
    dialog.accept();
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QVERIFY(dialog.errorText().isEmpty());
    Settings reread(dir_.filePath(QStringLiteral("settings.ini")));
    QCOMPARE(reread.databasePath(), db);
    QCOMPARE(reread.calibrationSet(), text);
  }

  // Data chosen for an image model never pre-fills a text model's dialogs, and comes back for the
  // next image model; the Preferences' text calibration set is offered to text models only.
  void dataPathsStayWithTheirKindOfModel() {
    const QString text = test::demo(QStringLiteral("sotu-calib.txt"));
    const QString images = test::demo(QStringLiteral("mnist/calib-images-idx3-ubyte.gz"));
    settings_->setCalibrationSet(text);
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("mnist-vit"))));
    QVERIFY(window_->runSettings().calibration.isEmpty());
    QCOMPARE(window_->runSettings().metric, QStringLiteral("top1"));
    RunDialog* d = window_->startRun(RunDialog::Kind::Calibrate);
    QVERIFY(d);
    QVERIFY(!d->findChild<QSpinBox*>(QStringLiteral("seq"))->isVisible());  // images, not windows of tokens
    const QString shots = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR");
    if (!shots.isEmpty()) QVERIFY(d->grab().save(shots + QStringLiteral("/calibrate-dialog-images.png")));
    d->findChild<QLineEdit*>(QStringLiteral("calibration"))->setText(images);
    d->findChild<QSpinBox*>(QStringLiteral("calibSamples"))->setValue(4);
    QSignalSpy recorded(window_.get(), &MainWindow::runRecorded);
    QTest::mouseClick(d->findChild<QPushButton*>(QStringLiteral("runButton")), Qt::LeftButton);
    QVERIFY(recorded.wait(kJobTimeoutMs));
    QCOMPARE(window_->runSettings().calibration, images);

    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("sotu-llama"))));
    QCOMPARE(window_->runSettings().calibration, text);
    QCOMPARE(window_->runSettings().metric, QStringLiteral("perplexity"));
    RunDialog* text_dialog = window_->startRun(RunDialog::Kind::Compress);
    QVERIFY(text_dialog);
    QVERIFY(!text_dialog->findChild<QLineEdit*>(QStringLiteral("evaluationLabels")));  // labels are for images
    QVERIFY(text_dialog->findChild<QSpinBox*>(QStringLiteral("seq"))->isVisible());
    // A wrong path is refused in the dialog, which stays open and names the file; an empty file too.
    auto* calib = text_dialog->findChild<QLineEdit*>(QStringLiteral("calibration"));
    auto* problem = text_dialog->findChild<QLabel*>(QStringLiteral("dataProblem"));
    QVERIFY(calib && problem);
    calib->setText(QStringLiteral("/nonexistent/calib.txt"));
    QTest::mouseClick(text_dialog->findChild<QPushButton*>(QStringLiteral("runButton")), Qt::LeftButton);
    QVERIFY(text_dialog->isVisible());
    QVERIFY(problem->isVisible());
    QVERIFY2(problem->text().contains(QStringLiteral("/nonexistent/calib.txt does not exist")), qPrintable(problem->text()));
    QTemporaryDir tmp;
    QFile empty(tmp.filePath(QStringLiteral("empty.txt")));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    calib->setText(empty.fileName());
    QTest::mouseClick(text_dialog->findChild<QPushButton*>(QStringLiteral("runButton")), Qt::LeftButton);
    QVERIFY(text_dialog->isVisible());
    QVERIFY2(problem->text().contains(QStringLiteral("is empty")), qPrintable(problem->text()));
    calib->setText(text);
    QVERIFY(text_dialog->dataProblem().isEmpty());
    text_dialog->reject();
    QVERIFY(openAndWait(*window_, test::demo(QStringLiteral("mnist-resnet"))));
    QCOMPARE(window_->runSettings().calibration, images);
  }

  // A job's error leaves the Issues dock when the same job later succeeds (a fixed data path).
  void anErrorGoesWhenTheJobSucceedsLater() {
    JobRunner& jobs = window_->jobs();
    auto errors = [&] {
      int n = 0;
      for (int r = 0; r < window_->issues().rowCount(); ++r)
        n += window_->issues().issue(r).message.startsWith(QStringLiteral("Calibrate tiny:")) ? 1 : 0;
      return n;
    };
    Job fail;
    fail.title = QStringLiteral("Calibrate tiny");
    fail.work = [](JobContext&) { throw quench::Error("calib.txt: no such file"); };
    jobs.submit(std::move(fail));
    QTRY_COMPARE(errors(), 1);
    if (auto* box = window_->findChild<QMessageBox*>(QStringLiteral("jobErrorDialog"))) box->close();
    Job ok;
    ok.title = QStringLiteral("Calibrate tiny");
    ok.work = [](JobContext&) {};
    jobs.submit(std::move(ok));
    QTRY_COMPARE(errors(), 0);
  }

  // A recipe edited since it was saved, loaded or recorded by a run is not lost silently: closing
  // asks (once), Keep Working keeps the window, and undoing back to the kept recipe asks nothing.
  void quittingWithAnUnsavedRecipeAsksFirst() {
    RecipeDocument& recipe = window_->recipe();
    recipe.markKept();  // whatever earlier tests left is the kept state here
    QVERIFY(!recipe.unsaved());
    recipe.change(nlohmann::json({{"name", "unsaved"}, {"scheme", "W8A16"}}), QStringLiteral("edit"));
    QVERIFY(recipe.unsaved());
    window_->close();
    QVERIFY(window_->isVisible());
    auto* box = window_->findChild<QMessageBox*>(QStringLiteral("quitWithUnsavedRecipe"));
    QVERIFY(box);
    QVERIFY(box->findChild<QPushButton*>(QStringLiteral("saveRecipeAndQuit")));
    QVERIFY(box->findChild<QPushButton*>(QStringLiteral("discardRecipe")));
    window_->close();
    QCOMPARE(window_->findChildren<QMessageBox*>(QStringLiteral("quitWithUnsavedRecipe")).size(), qsizetype(1));
    QPushButton* keep = nullptr;
    for (auto* b : box->findChildren<QPushButton*>())
      if (b->text() == QStringLiteral("Keep Working")) keep = b;
    QVERIFY(keep);
    QTest::mouseClick(keep, Qt::LeftButton);
    QTRY_VERIFY(!window_->findChild<QMessageBox*>(QStringLiteral("quitWithUnsavedRecipe")));
    QVERIFY(window_->isVisible());
    recipe.undoStack()->undo();
    QVERIFY(!recipe.unsaved());
  }

  // Closing while a job runs asks first; keeping the window is the safe answer, quitting cancels.
  void quittingDuringAJobAsksFirst() {
    window_->recipe().markKept();  // only the job's question here
    JobRunner& jobs = window_->jobs();
    Job job;
    job.title = QStringLiteral("a long run");
    job.work = [](JobContext& ctx) {
      while (!ctx.cancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ctx.check_cancelled();
    };
    jobs.submit(std::move(job));
    QTRY_VERIFY(jobs.busy());
    window_->close();
    QVERIFY(window_->isVisible());
    auto* box = window_->findChild<QMessageBox*>(QStringLiteral("quitDuringJob"));
    QVERIFY(box);
    window_->close();  // asked again: still one question
    QCOMPARE(window_->findChildren<QMessageBox*>(QStringLiteral("quitDuringJob")).size(), qsizetype(1));
    QTest::mouseClick(box->findChild<QPushButton*>(QStringLiteral("quitAnyway")), Qt::LeftButton);
    QTRY_VERIFY(!window_->isVisible());
    QTRY_VERIFY(!jobs.busy());
  }

  void aboutNamesTheVersions() {
    const QString v = versionsText();
    QVERIFY(v.contains(QStringLiteral("Quench " QUENCH_VERSION)));
    QVERIFY(v.contains(QStringLiteral("Qt ") + QString::fromLatin1(qVersion())));
    QVERIFY(v.contains(QStringLiteral("libtorch ")));
    QVERIFY(v.contains(QStringLiteral("QCustomPlot ")));
    const QString keys = shortcutsText(*window_);
    for (const char* action : {"Open Model…", "Filter Layers", "Cancel Job", "Quit", "Preferences…"})
      QVERIFY2(keys.contains(QString::fromUtf8(action)), action);
    // Cancel Job sits in the Run menu, beside the runs it cancels.
    auto* cancel = window_->findChild<QAction*>(QStringLiteral("cancelJobAction"));
    QVERIFY(cancel);
    bool in_run_menu = false;
    for (QObject* o : cancel->associatedObjects())
      if (auto* m = qobject_cast<QMenu*>(o)) in_run_menu = in_run_menu || m->title() == QStringLiteral("R&un");
    QVERIFY(in_run_menu);
  }
};

QTEST_MAIN(WindowTest)
#include "window_test.moc"
