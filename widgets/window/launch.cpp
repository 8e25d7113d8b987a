#include "widgets/window/launch.h"

#include <QComboBox>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFileInfo>
#include <QPointer>
#include <QTabWidget>
#include <QHeaderView>
#include <QTableView>
#include <QTimer>

#include <cstdio>
#include <fstream>

#include "core/util/error.h"
#include "widgets/detail/activation_page.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/detail/smoothing_page.h"
#include "widgets/detail/weight_page.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/model_tree.h"
#include "widgets/layers/layer_filter_proxy.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/experiments/compare_window.h"
#include "widgets/generate/generate_panel.h"
#include "widgets/experiments/sensitivity_heatmap.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_edits.h"
#include "widgets/runs/export_dialog.h"
#include "widgets/runs/sweep_dialog.h"
#include "widgets/window/main_window.h"

namespace quench::gui {

namespace {
void fail_usage(const QString& message) { throw quench::UsageError(message.toStdString()); }

void sortTable(MainWindow& window, const QString& spec) {
  const QStringList parts = spec.split(QLatin1Char(':'));
  const Qt::SortOrder order =
      parts.size() > 1 && parts[1] == QLatin1String("asc") ? Qt::AscendingOrder : Qt::DescendingOrder;
  const LayerTableModel* model = window.layers()->model();
  for (int c = 0; c < model->columnCount(); ++c) {
    if (model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString().compare(parts[0], Qt::CaseInsensitive) == 0) {
      window.layers()->view()->sortByColumn(c, order);
      return;
    }
  }
  fail_usage(QObject::tr("--sort: no column named '%1'").arg(parts[0]));
}

const QStringList kTabs = {QStringLiteral("layer"), QStringLiteral("before-after"), QStringLiteral("recipe"), QStringLiteral("experiments"),
                           QStringLiteral("activations"), QStringLiteral("model"), QStringLiteral("smoothing"), QStringLiteral("generate")};
// In CompareWindow::Tab order.
const QStringList kCompareTabs = {QStringLiteral("metrics"), QStringLiteral("layers"), QStringLiteral("pareto"), QStringLiteral("layer-table"),
                                  QStringLiteral("runs")};
// Every run kind's name, and generate.
QStringList runNames() {
  QStringList out;
  for (RunKind k : kRunKinds) out << QString::fromLatin1(run_kind_name(k));
  return out << QStringLiteral("generate");
}
const QStringList kRuns = runNames();

void loadRecipe(MainWindow& window, const QString& recipe) {
  try {
    if (QFileInfo::exists(recipe)) window.recipe().load(recipe);
    else window.recipe().change(presetRecipe(recipe), QObject::tr("Use preset %1").arg(recipe));
  } catch (const std::exception& e) {
    fail_usage(QObject::tr("--recipe: %1").arg(QString::fromStdString(e.what())));
  }
}

void showTab(MainWindow& window, const QString& tab) {
  const int i = static_cast<int>(kTabs.indexOf(tab));
  if (i == 4) {  // the layer detail's third page
    window.sideTabs()->setCurrentIndex(0);
    window.detail()->tabs()->setCurrentIndex(2);
    return;
  }
  if (i == 5) {
    window.sideTabs()->setCurrentWidget(window.modelTree());
    return;
  }
  if (i == 6) {
    window.sideTabs()->setCurrentIndex(0);
    window.detail()->tabs()->setCurrentWidget(window.smoothingPage());
    return;
  }
  if (i == 7) {
    window.sideTabs()->setCurrentWidget(window.generatePanel());
    return;
  }
  window.sideTabs()->setCurrentIndex(i == 1 ? 0 : i == 0 ? 0 : i - 1);
  if (i <= 1) window.detail()->tabs()->setCurrentIndex(i);
}

// Applies the view options; in screenshot mode, saves the window a moment later (queued replots
// and layouts settle first) and quits.
void finish(MainWindow& window, const LaunchOptions& opts, const QList<int64_t>& recorded) {
  if (!opts.filter.isEmpty()) window.layers()->filter()->setText(opts.filter);
  if (!opts.sort.isEmpty()) sortTable(window, opts.sort);
  if (opts.select.isEmpty())
    window.layers()->selectTop();  // the top of the table as filtered and sorted
  else if (!window.showLayer(opts.select))
    fail_usage(QObject::tr("--select: the model has no layer '%1'").arg(opts.select));
  if (opts.select_all) window.layers()->view()->selectAll();
  if (!opts.tab.isEmpty()) showTab(window, opts.tab);
  if (opts.log_y) window.weightPage()->histogram()->setLogY(true);
  if (!opts.point.isEmpty() && !window.activationPage()->selectPoint(opts.point))
    fail_usage(QObject::tr("--point: the selected layer has no observed point ':%1' (%2)")
                   .arg(opts.point, window.activationPage()->points().join(QStringLiteral(", "))));
  if (opts.issues) window.findChild<IssuesDock*>()->raise();
  QPointer<QWidget> target = &window;
  if (opts.compare || !opts.compare_runs.isEmpty()) {
    const QList<int64_t> ids = opts.compare_runs.isEmpty() ? recorded : opts.compare_runs;
    if (ids.isEmpty()) fail_usage(QObject::tr("--compare: no runs to show"));
    CompareWindow* cmp = window.compareExperiments(ids);
    if (!cmp) fail_usage(QObject::tr("--compare: the runs could not be compared"));
    cmp->resize(opts.size);
    if (!opts.compare_tab.isEmpty()) cmp->tabs()->setCurrentIndex(static_cast<int>(kCompareTabs.indexOf(opts.compare_tab)));
    if (!opts.compare_axes.isEmpty()) {
      const int x = cmp->paretoX()->findData(opts.compare_axes.value(0)), y = cmp->paretoY()->findData(opts.compare_axes.value(1));
      if (x < 0 || y < 0)
        fail_usage(QObject::tr("--compare-axes: '%1' are not both metrics these runs recorded").arg(opts.compare_axes.join(QLatin1Char(','))));
      cmp->paretoX()->setCurrentIndex(x);
      cmp->paretoY()->setCurrentIndex(y);
    }
    target = cmp;
  }
  if (opts.heatmap) {
    SensitivityHeatmap* heatmap = window.showSensitivityHeatmap();
    if (!heatmap) fail_usage(QObject::tr("--heatmap: no sensitivity run is shown (add --run sensitivity)"));
    heatmap->resize(opts.size);
    target = heatmap;
  }
  if (!opts.export_dialog.isEmpty()) {
    ExportDialog* dialog = window.startExport();
    if (!dialog) fail_usage(QObject::tr("--export-dialog: the export dialog could not be opened"));
    auto* format = dialog->findChild<QComboBox*>(QStringLiteral("exportFormat"));
    format->setCurrentIndex(format->findData(opts.export_dialog));
    target = dialog;
  }
  auto shoot = [&window, opts](QPointer<QWidget> target) {
    QTimer::singleShot(800, &window, [&window, opts, target] {
      auto* sweep = qobject_cast<SweepDialog*>(target.data());
      if (sweep && !sweep->error().isEmpty()) std::fprintf(stderr, "quench: the sweep: %s\n", qPrintable(sweep->error()));
      const bool failed = window.issues().count(Issue::Severity::Error) > 0 || (sweep && !sweep->error().isEmpty());
      const bool saved = target && target->grab().save(opts.screenshot);
      if (!saved) std::fprintf(stderr, "quench: could not write %s\n", qPrintable(opts.screenshot));
      if (failed) std::fprintf(stderr, "quench: a job failed; the screenshot shows the error\n");
      QCoreApplication::exit(saved && !failed ? 0 : 1);
    });
  };
  if (!opts.sweep.isEmpty()) {
    SweepDialog* dialog = window.startSweep();
    if (!dialog) fail_usage(QObject::tr("--sweep: the sweep dialog could not be opened"));
    try {
      std::ifstream in(opts.sweep.toStdString());
      if (!in) throw Error(opts.sweep.toStdString() + ": cannot open the sweep description");
      dialog->loadDescription(nlohmann::json::parse(in));
    } catch (const std::exception& e) {
      fail_usage(QObject::tr("--sweep: %1").arg(QString::fromUtf8(e.what())));
    }
    // Started as the Start button does; the screenshot waits until every task has ended.
    if (!opts.screenshot.isEmpty())
      QObject::connect(dialog, &SweepDialog::finishedAll, &window, [shoot, dialog] { shoot(dialog); });
    dialog->start();
    return;
  }
  if (opts.screenshot.isEmpty()) return;
  shoot(target);
}
}  // namespace

LaunchOptions parseLaunchOptions(const QStringList& arguments) {
  QCommandLineParser p;
  p.setApplicationDescription(QObject::tr("Quench: a workbench for compressing neural networks."));
  p.addHelpOption();
  p.addVersionOption();
  p.addPositionalArgument(QStringLiteral("MODEL_DIR"), QObject::tr("A Hugging Face model folder to open."),
                          QStringLiteral("[MODEL_DIR]"));
  const QCommandLineOption settings(QStringLiteral("settings"), QObject::tr("Keep settings in this INI file."),
                                    QStringLiteral("FILE"));
  const QCommandLineOption select(QStringLiteral("select"), QObject::tr("Select this layer once the model is open."),
                                  QStringLiteral("LAYER"));
  const QCommandLineOption filter(QStringLiteral("filter"), QObject::tr("Filter the layer table by this glob."),
                                  QStringLiteral("GLOB"));
  const QCommandLineOption sort(QStringLiteral("sort"),
                                QObject::tr("Sort the layer table by a column (its header), descending unless :asc."),
                                QStringLiteral("COLUMN[:asc|:desc]"));
  const QCommandLineOption log_y(QStringLiteral("log-y"), QObject::tr("Logarithmic count axis on the histogram."));
  const QCommandLineOption issues(QStringLiteral("issues"), QObject::tr("Bring the Issues dock to the front."));
  const QCommandLineOption shot(QStringLiteral("screenshot"),
                                QObject::tr("Save the window as an image once the model's jobs are done, then quit."),
                                QStringLiteral("FILE"));
  const QCommandLineOption size(QStringLiteral("size"), QObject::tr("Window size, e.g. 1440x900."), QStringLiteral("WxH"));
  const QCommandLineOption recipe(QStringLiteral("recipe"), QObject::tr("Load this recipe file, scheme or preset into the recipe editor."),
                                  QStringLiteral("FILE|SCHEME|PRESET"));
  const QCommandLineOption run(QStringLiteral("run"),
                               QObject::tr("Run these with the run dialog's defaults once the model is open: compress, evaluate, sensitivity, calibrate (or generate: the Generate tab's prompt)."),
                               QStringLiteral("KIND[,KIND…]"));
  const QCommandLineOption compare(QStringLiteral("compare"), QObject::tr("Compare the runs --run recorded (screenshot: that window)."));
  const QCommandLineOption compare_runs(QStringLiteral("compare-runs"), QObject::tr("Compare these stored runs (screenshot: that window)."),
                                        QStringLiteral("ID,ID…"));
  const QCommandLineOption compare_tab(QStringLiteral("compare-tab"), QObject::tr("The comparison's tab: metrics, layers, pareto, layer-table or runs."),
                                       QStringLiteral("TAB"));
  const QCommandLineOption compare_axes(QStringLiteral("compare-axes"),
                                        QObject::tr("The comparison's trade-off plot: these two metrics (stored keys), across and up."),
                                        QStringLiteral("X,Y"));
  const QCommandLineOption heatmap(QStringLiteral("heatmap"), QObject::tr("Show the sensitivity run as heatmaps (screenshot: that window)."));
  const QCommandLineOption tab(QStringLiteral("tab"), QObject::tr("Show this side tab: layer, before-after, recipe, experiments, activations, model, smoothing or generate."),
                               QStringLiteral("TAB"));
  const QCommandLineOption point(QStringLiteral("point"),
                                 QObject::tr("On the Activations page, show the selected layer's point of this kind (input, output, x, dt, B, C, y, probs, k, v)."),
                                 QStringLiteral("KIND"));
  const QCommandLineOption select_all(QStringLiteral("select-all"), QObject::tr("Select every row the filter shows."));
  const QCommandLineOption sweep(QStringLiteral("sweep"),
                                 QObject::tr("Open Run → Sweep… filled from this sweep description and start it here (screenshot: the dialog, "
                                             "once every task has ended)."),
                                 QStringLiteral("DESCRIPTION.json"));
  const QCommandLineOption export_dialog(QStringLiteral("export-dialog"),
                                         QObject::tr("Open File → Export with this format: gguf, compressed-tensors or safetensors (screenshot: the dialog)."),
                                         QStringLiteral("FORMAT"));
  const QCommandLineOption timeout(QStringLiteral("timeout"), QObject::tr("Screenshot mode: give up after this many seconds."),
                                   QStringLiteral("SECONDS"));
  p.addOptions({settings, select, filter, sort, log_y, issues, shot, size, timeout, recipe, run, compare, compare_runs, compare_tab, compare_axes, heatmap, tab, select_all, point, export_dialog, sweep});
  p.process(arguments);

  LaunchOptions o;
  const QStringList positional = p.positionalArguments();
  if (positional.size() > 1) fail_usage(QObject::tr("expected at most one MODEL_DIR, got %1").arg(positional.size()));
  if (!positional.isEmpty()) o.model = positional.first();
  o.settings = p.value(settings);
  o.select = p.value(select);
  o.filter = p.value(filter);
  o.sort = p.value(sort);
  o.log_y = p.isSet(log_y);
  o.issues = p.isSet(issues);
  o.screenshot = p.value(shot);
  o.recipe = p.value(recipe);
  if (p.isSet(run)) o.runs = p.value(run).split(QLatin1Char(','), Qt::SkipEmptyParts);
  for (const QString& r : o.runs)
    if (!kRuns.contains(r)) fail_usage(QObject::tr("--run: '%1' is not one of %2").arg(r, kRuns.join(QStringLiteral(", "))));
  o.compare = p.isSet(compare);
  for (const QString& id : p.value(compare_runs).split(QLatin1Char(','), Qt::SkipEmptyParts)) {
    bool ok = false;
    o.compare_runs << id.trimmed().toLongLong(&ok);
    if (!ok) fail_usage(QObject::tr("--compare-runs: '%1' is not a run number").arg(id));
  }
  o.compare_tab = p.value(compare_tab);
  if (p.isSet(compare_axes)) {
    o.compare_axes = p.value(compare_axes).split(QLatin1Char(','), Qt::SkipEmptyParts);
    if (o.compare_axes.size() != 2) fail_usage(QObject::tr("--compare-axes: give two metric keys, X,Y"));
  }
  o.heatmap = p.isSet(heatmap);
  if (!o.compare_tab.isEmpty() && !kCompareTabs.contains(o.compare_tab))
    fail_usage(QObject::tr("--compare-tab: '%1' is not one of %2").arg(o.compare_tab, kCompareTabs.join(QStringLiteral(", "))));
  o.tab = p.value(tab);
  if (!o.tab.isEmpty() && !kTabs.contains(o.tab)) fail_usage(QObject::tr("--tab: '%1' is not one of %2").arg(o.tab, kTabs.join(QStringLiteral(", "))));
  o.select_all = p.isSet(select_all);
  o.point = p.value(point);
  o.export_dialog = p.value(export_dialog);
  o.sweep = p.value(sweep);
  if (!o.export_dialog.isEmpty() && !QStringList{QStringLiteral("gguf"), QStringLiteral("compressed-tensors"), QStringLiteral("safetensors")}.contains(o.export_dialog))
    fail_usage(QObject::tr("--export-dialog: '%1' is not gguf, compressed-tensors or safetensors").arg(o.export_dialog));
  if (p.isSet(size)) {
    const QStringList wh = p.value(size).split(QLatin1Char('x'));
    bool ok_w = false, ok_h = false;
    if (wh.size() == 2) o.size = QSize(wh[0].toInt(&ok_w), wh[1].toInt(&ok_h));
    if (!ok_w || !ok_h || o.size.width() < 200 || o.size.height() < 200)
      fail_usage(QObject::tr("--size: expected WIDTHxHEIGHT of at least 200x200, got '%1'").arg(p.value(size)));
  }
  if (p.isSet(timeout)) {
    bool ok = false;
    o.timeout_s = p.value(timeout).toInt(&ok);
    if (!ok || o.timeout_s <= 0) fail_usage(QObject::tr("--timeout: expected a positive number of seconds"));
  }
  if (!o.screenshot.isEmpty() && o.model.isEmpty()) fail_usage(QObject::tr("--screenshot needs a MODEL_DIR"));
  return o;
}

void launch(MainWindow& window, const LaunchOptions& opts) {
  window.resize(opts.size);
  if (opts.model.isEmpty()) return;
  // After the open and statistics jobs (and then after the runs --run asks for), or after a
  // failure (which the screenshot then shows).
  auto recorded = std::make_shared<QList<int64_t>>();
  QObject::connect(&window, &MainWindow::runRecorded, &window, [recorded](qint64 id, const QString&) { recorded->append(id); });
  auto stage = std::make_shared<int>(0);
  auto connection = std::make_shared<QMetaObject::Connection>();
  *connection = QObject::connect(&window.jobs(), &JobRunner::idle, &window, [&window, opts, connection, stage, recorded] {
    try {
      if (*stage == 0 && window.session() && (!opts.recipe.isEmpty() || !opts.runs.isEmpty())) {
        *stage = 1;
        if (!opts.recipe.isEmpty()) loadRecipe(window, opts.recipe);
        if (!opts.runs.isEmpty()) {
          for (const QString& r : opts.runs)
            if (r == QLatin1String("generate")) window.generatePanel()->generateButton()->click();  // its default prompt
            else window.submitRun(parse_run_kind(r.toStdString()), window.runSettings());
          return;  // finish when these are done
        }
      }
      QObject::disconnect(*connection);
      finish(window, opts, *recorded);
    } catch (const std::exception& e) {
      QObject::disconnect(*connection);
      std::fprintf(stderr, "quench: %s\n", e.what());
      if (!opts.screenshot.isEmpty()) QCoreApplication::exit(2);
    }
  });
  if (!opts.screenshot.isEmpty())
    QTimer::singleShot(opts.timeout_s * 1000, &window, [opts] {
      std::fprintf(stderr, "quench: the window's jobs did not finish within %d s\n", opts.timeout_s);
      QCoreApplication::exit(1);
    });
  window.openModel(opts.model);
}

}  // namespace quench::gui
