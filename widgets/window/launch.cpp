#include "widgets/window/launch.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QHeaderView>
#include <QTableView>
#include <QTimer>

#include <cstdio>

#include "core/util/error.h"
#include "widgets/detail/weight_page.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/layer_filter_proxy.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/plots/histogram_plot.h"
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

// Applies the view options; in screenshot mode, saves the window a moment later (queued replots
// and layouts settle first) and quits.
void finish(MainWindow& window, const LaunchOptions& opts) {
  if (!opts.filter.isEmpty()) window.layers()->filter()->setText(opts.filter);
  if (!opts.sort.isEmpty()) sortTable(window, opts.sort);
  if (opts.select.isEmpty())
    window.layers()->selectTop();  // the top of the table as filtered and sorted
  else if (!window.showLayer(opts.select))
    fail_usage(QObject::tr("--select: the model has no layer '%1'").arg(opts.select));
  if (opts.log_y) window.weightPage()->histogram()->setLogY(true);
  if (opts.issues) window.findChild<IssuesDock*>()->raise();
  if (opts.screenshot.isEmpty()) return;
  QTimer::singleShot(500, &window, [&window, opts] {
    const bool failed = window.issues().count(Issue::Severity::Error) > 0;
    const bool saved = window.grab().save(opts.screenshot);
    if (!saved) std::fprintf(stderr, "quench: could not write %s\n", qPrintable(opts.screenshot));
    if (failed) std::fprintf(stderr, "quench: a job failed; the screenshot shows the error\n");
    QCoreApplication::exit(saved && !failed ? 0 : 1);
  });
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
  const QCommandLineOption timeout(QStringLiteral("timeout"), QObject::tr("Screenshot mode: give up after this many seconds."),
                                   QStringLiteral("SECONDS"));
  p.addOptions({settings, select, filter, sort, log_y, issues, shot, size, timeout});
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
  // After the open and statistics jobs, or after a failure (which the screenshot then shows).
  auto connection = std::make_shared<QMetaObject::Connection>();
  *connection = QObject::connect(&window.jobs(), &JobRunner::idle, &window, [&window, opts, connection] {
    QObject::disconnect(*connection);
    try {
      finish(window, opts);
    } catch (const std::exception& e) {
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
