// The plot widgets with real weight statistics (bundled sotu-llama, and llama-tiny with its planted
// outlier channels 0 and 1): what they draw, their tooltips, log axes and export.
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include <algorithm>

#include "core/util/error.h"
#include "test_support.h"
#include "widgets/plots/bar_plot.h"
#include "widgets/plots/channel_plot.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/plots/range_plot.h"
#include "widgets/plots/scatter_plot.h"
#include "widgets/session/model_session.h"
#include "widgets/util/save_path.h"

using namespace quench::gui;

namespace {
// Pixels that differ from the top-left (background) colour: an empty plot has only axes and text.
int inkPixels(const QImage& image, QRect area) {
  const QRgb background = image.pixel(1, 1);
  int n = 0;
  for (int y = area.top(); y <= area.bottom(); ++y)
    for (int x = area.left(); x <= area.right(); ++x)
      if (image.pixel(x, y) != background) ++n;
  return n;
}
QRect axisRect(const PlotWidget& p) { return p.findChild<QCustomPlot*>()->axisRect()->rect().adjusted(2, 2, -2, -2); }

const quench::WeightStats& statsOf(const ModelSession& s, const std::string& layer) {
  const quench::WeightStats* w = s.weightStats(s.rowOf(layer));
  if (!w) qFatal("no statistics for %s", layer.c_str());
  return *w;
}
}  // namespace

class PlotsTest : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<ModelSession> llama_, tiny_;

 private Q_SLOTS:
  // Save dialogs for exports start in the last export's folder, else Documents or home: never the
  // working folder a desktop launch happens to have.
  void exportsSuggestAFolderNotTheWorkingOne() {
    const QString first = suggestedSavePath(QStringLiteral("plot.png"));
    QVERIFY2(QFileInfo(first).isAbsolute(), qPrintable(first));
    QCOMPARE(QFileInfo(first).fileName(), QStringLiteral("plot.png"));
    QVERIFY(QFileInfo(QFileInfo(first).absolutePath()).isDir());
    QTemporaryDir dir;
    rememberSavePath(dir.filePath(QStringLiteral("report.html")));
    QCOMPARE(suggestedSavePath(QStringLiteral("table.csv")), dir.filePath(QStringLiteral("table.csv")));
  }
  void initTestCase() {
    llama_ = test::loadSession(test::demo(QStringLiteral("sotu-llama")), true);
    tiny_ = test::loadSession(test::fixture(QStringLiteral("hf-tiny/llama-tiny")), true);
  }

  void histogramDrawsRealWeights() {
    const auto& w = statsOf(*llama_, "model.layers.2.mlp.down_proj");
    HistogramPlot plot;
    plot.resize(600, 300);
    QVERIFY(!plot.hasData());
    const QImage empty = plot.render();
    plot.setData(w.all.histogram.edges(), w.all.histogram.counts());
    QVERIFY(plot.hasData());
    QVERIFY(plot.displayedBins() > 16 && plot.displayedBins() <= HistogramPlot::kMaxBars);
    const QImage drawn = plot.render();
    QVERIFY2(inkPixels(drawn, axisRect(plot)) > 10 * inkPixels(empty, axisRect(plot)) + 500, "histogram area is drawn");
    // The x range covers the weights.
    auto* qcp = plot.findChild<QCustomPlot*>();
    QVERIFY(qcp->xAxis->range().lower <= -w.all.absmax * 0.99);
    QVERIFY(qcp->xAxis->range().upper >= w.all.absmax * 0.99);
  }

  void logYUsesALogTicker() {
    const auto& w = statsOf(*llama_, "model.layers.0.self_attn.q_proj");
    HistogramPlot plot;
    plot.resize(600, 300);
    plot.setData(w.all.histogram.edges(), w.all.histogram.counts());
    auto* qcp = plot.findChild<QCustomPlot*>();
    QCOMPARE(qcp->yAxis->scaleType(), QCPAxis::stLinear);
    const QImage linear = plot.render();
    plot.findChild<QCheckBox*>(QStringLiteral("logY"))->click();
    QVERIFY(plot.logY());
    QCOMPARE(qcp->yAxis->scaleType(), QCPAxis::stLogarithmic);
    // Without QCPAxisTickerLog the linear ticker piles its labels into one corner.
    QVERIFY(qcp->yAxis->ticker().dynamicCast<QCPAxisTickerLog>());
    QVERIFY(qcp->yAxis->range().lower > 0);
    const QImage log = plot.render();
    QVERIFY(log != linear);
    // Few enough tick labels to be read: one per decade at most.
    qcp->replot();
    const QVector<double> ticks = qcp->yAxis->tickVector();
    QVERIFY2(ticks.size() >= 2 && ticks.size() <= 10, qPrintable(QString::number(ticks.size())));
    plot.setLogY(false);
    QCOMPARE(qcp->yAxis->scaleType(), QCPAxis::stLinear);
  }

  void channelPlotMarksPlantedOutliers() {
    const auto& w = statsOf(*tiny_, "model.layers.0.self_attn.q_proj");
    std::vector<int64_t> outliers;
    for (const auto& o : w.outliers.channels) outliers.push_back(o.channel);
    QVERIFY(std::count(outliers.begin(), outliers.end(), 0) == 1 && std::count(outliers.begin(), outliers.end(), 1) == 1);  // planted
    ChannelPlot plot;
    plot.setNames(QStringLiteral("input channel"), QStringLiteral("absmax"));
    plot.resize(700, 300);
    plot.show();  // hit-testing needs the laid-out axes
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setData(w.in_absmax, outliers, w.outliers.multiple * w.outliers.median_absmax, w.outliers.median_absmax);
    QCOMPARE(plot.outlierCount(), static_cast<int64_t>(outliers.size()));
    auto* qcp = plot.findChild<QCustomPlot*>();
    qcp->replot();
    QCOMPARE(qcp->graph(1)->dataCount(), static_cast<int>(outliers.size()));  // the red ones
    QCOMPARE(qcp->graph(0)->dataCount() + qcp->graph(1)->dataCount(), static_cast<int>(w.in_absmax.size()));

    // 64 channels over ~600 pixels: each planted channel can be hovered on its own.
    for (int64_t c : {0, 1}) {
      const QString tip = plot.toolTipAt(plot.pointOf(c));
      QVERIFY2(tip.startsWith(QStringLiteral("input channel %1\n").arg(c)), qPrintable(tip));
      QVERIFY2(tip.contains(QStringLiteral("absmax ") + QString::number(w.in_absmax[c], 'g', 5)), qPrintable(tip));
      QVERIFY2(tip.endsWith(QStringLiteral("outlier")), qPrintable(tip));
    }
    // A channel far from the planted ones is not called an outlier.
    int64_t ordinary = static_cast<int64_t>(w.in_absmax.size()) - 1;
    while (std::count(outliers.begin(), outliers.end(), ordinary)) --ordinary;
    const QString tip = plot.toolTipAt(plot.pointOf(ordinary));
    QVERIFY2(!tip.contains(QStringLiteral("outlier")), qPrintable(tip));
    QVERIFY2(tip.contains(QStringLiteral("× median")), qPrintable(tip));
    // Outside the axes there is nothing to explain.
    QVERIFY(plot.toolTipAt(QPoint(1, 1)).isEmpty());
  }

  void hoverShowsTheTooltip() {
    const auto& w = statsOf(*tiny_, "model.layers.1.mlp.up_proj");
    std::vector<int64_t> outliers;
    for (const auto& o : w.outliers.channels) outliers.push_back(o.channel);
    ChannelPlot plot;
    plot.setNames(QStringLiteral("input channel"), QStringLiteral("absmax"));
    plot.resize(700, 300);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setData(w.in_absmax, outliers, w.outliers.multiple * w.outliers.median_absmax, w.outliers.median_absmax);
    auto* qcp = plot.findChild<QCustomPlot*>();
    QVERIFY2(qcp->hasMouseTracking(), "moves without a button pressed reach the plot");
    qcp->replot();
    const QPoint at = qcp->mapFrom(&plot, plot.pointOf(0));
    QTest::mouseMove(qcp, at);  // through the window system: no button held, as a user hovers
    QTRY_VERIFY2(QToolTip::isVisible(), "hovering a channel shows its tooltip");
    QVERIFY2(QToolTip::text().contains(QStringLiteral("outlier")), qPrintable(QToolTip::text()));
  }

  void rangePlotShowsEveryOutputChannel() {
    const auto& w = statsOf(*llama_, "model.layers.5.mlp.gate_proj");
    RangePlot plot;
    plot.resize(700, 300);
    plot.setChannelName(QStringLiteral("output channel"));
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    plot.setData(w.out_min, w.out_max);
    QVERIFY(plot.hasData());
    auto* qcp = plot.findChild<QCustomPlot*>();
    QCOMPARE(qcp->graph(0)->dataCount(), static_cast<int>(w.out_max.size()));
    const double lo = *std::min_element(w.out_min.begin(), w.out_min.end());
    const double hi = *std::max_element(w.out_max.begin(), w.out_max.end());
    QVERIFY(qcp->yAxis->range().lower < lo && qcp->yAxis->range().upper > hi);
    const QImage drawn = plot.render();  // lays the plot out first: axisRect() is valid after it
    QVERIFY(inkPixels(drawn, axisRect(plot)) > 2000);
    qcp->replot();
    const QPoint mid(static_cast<int>(qcp->xAxis->coordToPixel(10)), qcp->axisRect()->center().y());
    const QString tip = plot.toolTipAt(qcp->mapTo(&plot, mid));
    QVERIFY2(tip.startsWith(QStringLiteral("output channel ")) && tip.contains(QStringLiteral("min ")) &&
                 tip.contains(QStringLiteral("max ")),
             qPrintable(tip));
    QVERIFY_THROWS_EXCEPTION(quench::Error, plot.setData({0.0, 1.0}, {1.0}));
  }

  // Bars are named by their categories (the compare window's layers), also in an export; past 40
  // categories every k-th is named, so the labels stay readable.
  void barPlotNamesItsCategories() {
    BarPlot bars;
    bars.resize(800, 400);
    const QStringList few = {QStringLiteral("model.layers.0.mlp.up_proj"), QStringLiteral("model.layers.0.mlp.down_proj"),
                             QStringLiteral("lm_head")};
    bars.setData(few, {{QStringLiteral("#1"), {20.0, 18.5, 30.0}}});
    QCOMPARE(bars.tickLabels(), few);
    QStringList many;
    std::vector<double> values;
    for (int i = 0; i < 224; ++i) many << QStringLiteral("model.layers.%1.mlp.up_proj").arg(i), values.push_back(i);
    bars.setData(many, {{QStringLiteral("#1"), values}});
    const QStringList labels = bars.tickLabels();
    QVERIFY2(labels.size() >= 20 && labels.size() <= 40, qPrintable(QString::number(labels.size())));
    QCOMPARE(labels.front(), many.front());
    QVERIFY(many.contains(labels.back()));
  }

  // The front follows both axes' directions: smaller and better by default, and with a metric
  // where more is better across (tokens/s), faster and better.
  void paretoFrontFollowsBothDirections() {
    // (x, y): y is a perplexity (lower is better).
    const std::vector<ScatterPlot::Point> pts = {{1, 10, {}, false}, {2, 8, {}, false}, {3, 9, {}, false}, {4, 7, {}, false}};
    QCOMPARE(ScatterPlot::paretoFront(pts, true), (std::vector<size_t>{0, 1, 3}));
    // x higher is better: from the best x down, a point joins when it beats every faster one.
    QCOMPARE(ScatterPlot::paretoFront(pts, true, false), (std::vector<size_t>{3}));
    const std::vector<ScatterPlot::Point> speed = {{100, 9, {}, false}, {300, 10, {}, false}, {200, 8, {}, false}, {50, 7, {}, false}};
    QCOMPARE(ScatterPlot::paretoFront(speed, true, false), (std::vector<size_t>{1, 2, 3}));
    ScatterPlot plot;
    plot.resize(600, 400);
    plot.setPoints(speed, true, false);
    QCOMPARE(plot.front(), (std::vector<size_t>{1, 2, 3}));
    QCOMPARE(plot.pointCount(), 4);
  }

  // A short plot (a small window's detail pane) asks for fewer y ticks, a tall one for more.
  void shortPlotsHaveFewerYTicks() {
    RangePlot plot;
    plot.setData({-0.2, -0.1, -0.3}, {0.2, 0.1, 0.25});
    plot.resize(400, 110);
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    QVERIFY2(plot.yTickCount() <= 2, qPrintable(QString::number(plot.yTickCount())));
    plot.resize(400, 400);
    QTRY_VERIFY(plot.yTickCount() >= 4);
  }

  void exportsPngAndSvg() {
    const auto& w = statsOf(*llama_, "model.layers.1.self_attn.v_proj");
    HistogramPlot plot;
    plot.resize(500, 280);
    plot.setTitle(QStringLiteral("v_proj weights"));
    plot.setData(w.all.histogram.edges(), w.all.histogram.counts());
    QTemporaryDir dir;
    const QString png = dir.filePath(QStringLiteral("h.png")), svg = dir.filePath(QStringLiteral("h.svg"));
    plot.exportTo(png, QSize(640, 360));
    plot.exportTo(svg);
    const QImage image(png);
    QCOMPARE(image.size(), QSize(640, 360));
    QVERIFY(inkPixels(image, image.rect()) > 5000);
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray text = file.readAll();
    QVERIFY(text.contains("<svg"));
    QVERIFY(text.contains("v_proj weights"));
    QVERIFY(text.count("<path") + text.count("<polyline") > 3);
    QVERIFY_THROWS_EXCEPTION(quench::Error, plot.exportTo(dir.filePath(QStringLiteral("h.bmp"))));
  }
};

QTEST_MAIN(PlotsTest)
#include "plots_test.moc"
