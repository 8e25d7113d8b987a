#include "widgets/plots/histogram_plot.h"

#include <QCheckBox>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace quench::gui {

HistogramPlot::HistogramPlot(QWidget* parent) : PlotWidget(parent), log_y_(new QCheckBox(tr("log count"), this)) {
  setAxisLabels(tr("value"), tr("count"));
  log_y_->setObjectName(QStringLiteral("logY"));
  log_y_->setToolTip(tr("Logarithmic count axis: shows the rare large values in the tails"));
  // The toggle sits over the plot's title row, right-aligned: no data is drawn there, and the
  // plot keeps its full height.
  overlay(log_y_, Qt::AlignTop | Qt::AlignRight);
  QCustomPlot* p = plot();
  QCPGraph* g = p->addGraph();
  g->setLineStyle(QCPGraph::lsStepLeft);
  g->setPen(QPen(QColor(40, 90, 160), 1.2));
  g->setBrush(QColor(40, 90, 160, 70));
  QCPGraph* overlay = p->addGraph();  // the overlaid distribution: an outline only
  overlay->setLineStyle(QCPGraph::lsStepLeft);
  overlay->setPen(QPen(QColor(200, 110, 30), 1.2, Qt::DashLine));
  connect(log_y_, &QCheckBox::toggled, this, [this](bool on) {
    rebuild();
    Q_EMIT logYChanged(on);
  });
  refresh(false);
}

void HistogramPlot::setLogY(bool on) { log_y_->setChecked(on); }
bool HistogramPlot::logY() const { return log_y_->isChecked(); }

void HistogramPlot::clear() {
  edges_.clear();
  counts_.clear();
  rebuild();
}

void HistogramPlot::setOverlay(const std::vector<double>& edges, const std::vector<int64_t>& counts) {
  QUENCH_CHECK(edges.empty() || edges.size() == counts.size() + 1, "histogram overlay: ", edges.size(), " edges for ", counts.size(), " bins");
  overlay_edges_ = edges;
  overlay_counts_ = edges.empty() ? std::vector<int64_t>{} : counts;
  rebuild();
}

std::optional<std::pair<double, double>> HistogramPlot::valueRange() const {
  size_t first = 0, last = counts_.size();
  while (first < counts_.size() && counts_[first] == 0) ++first;
  if (first == counts_.size()) return std::nullopt;
  while (counts_[last - 1] == 0) --last;
  return std::make_pair(edges_[first], edges_[last]);
}

void HistogramPlot::setSharedXRange(std::optional<std::pair<double, double>> range) {
  shared_x_ = range;
  rebuild();
}

std::pair<double, double> HistogramPlot::xRange() const { return {plot()->xAxis->range().lower, plot()->xAxis->range().upper}; }

namespace {
// A histogram as a step curve of at most maxBars bars (neighbouring bins summed), closed at the
// last edge; returns the tallest bar.
double stepCurve(const std::vector<double>& edges, const std::vector<int64_t>& counts, int max_bars, QVector<double>& keys, QVector<double>& values) {
  const size_t bins = counts.size();
  const size_t merge = (bins + static_cast<size_t>(max_bars) - 1) / static_cast<size_t>(max_bars);
  double peak = 0;
  for (size_t b = 0; b < bins; b += merge) {
    const size_t end = std::min(bins, b + merge);
    double sum = 0;
    for (size_t i = b; i < end; ++i) sum += static_cast<double>(counts[i]);
    keys.push_back(edges[b]);
    values.push_back(sum);
    peak = std::max(peak, sum);
  }
  keys.push_back(edges.back());
  values.push_back(values.back());
  return peak;
}
}  // namespace

void HistogramPlot::setData(const std::vector<double>& edges, const std::vector<int64_t>& counts) {
  QUENCH_CHECK(edges.size() == counts.size() + 1, "histogram plot: ", edges.size(), " edges for ", counts.size(),
               " bins (expected bins + 1)");
  edges_ = edges;
  counts_ = counts;
  rebuild();
}

void HistogramPlot::rebuild() {
  QCustomPlot* p = plot();
  QCPGraph* g = p->graph(0);
  const size_t bins = counts_.size();
  int64_t total = 0;
  for (int64_t c : counts_) total += c;
  if (bins == 0 || total == 0) {
    g->data()->clear();
    p->graph(1)->data()->clear();
    displayed_bins_ = 0;
    // Neutral axes under the message, not the last data's (or a 1e-30 range of no data).
    p->yAxis->setScaleType(QCPAxis::stLinear);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    p->xAxis->setRange(-1, 1);
    p->yAxis->setRange(0, 1);
    refresh(false);
    return;
  }
  QVector<double> keys, values, overlay_keys, overlay_values;
  double peak = stepCurve(edges_, counts_, kMaxBars, keys, values);
  displayed_bins_ = keys.size() - 1;
  if (!overlay_counts_.empty()) {
    stepCurve(overlay_edges_, overlay_counts_, kMaxBars, overlay_keys, overlay_values);
    // Bars of another width hold other counts: scale the overlay to this histogram's bar width,
    // so equal heights mean equal density.
    if (keys.size() > 2 && overlay_keys.size() > 2 && overlay_keys[1] > overlay_keys[0]) {
      const double scale = (keys[1] - keys[0]) / (overlay_keys[1] - overlay_keys[0]);
      for (double& v : overlay_values) v *= scale;
    }
    for (double v : overlay_values) peak = std::max(peak, v);
  }

  const bool log = log_y_->isChecked();
  if (log) {
    // Empty bins have no logarithm: draw them at the floor, below one count.
    for (double& v : values) v = std::max(v, 0.5);
    for (double& v : overlay_values) v = std::max(v, 0.5);
    p->yAxis->setScaleType(QCPAxis::stLogarithmic);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    p->yAxis->setNumberFormat(QStringLiteral("eb"));
    p->yAxis->setNumberPrecision(0);
    p->yAxis->setRange(0.5, peak * 2.0);
  } else {
    p->yAxis->setScaleType(QCPAxis::stLinear);
    p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    p->yAxis->ticker()->setTickCount(4);
    p->yAxis->setNumberFormat(QStringLiteral("gb"));
    p->yAxis->setNumberPrecision(6);
    p->yAxis->setRange(0, peak * 1.05);
  }
  g->setData(keys, values, true);
  p->graph(1)->setData(overlay_keys, overlay_values, true);
  // The bins hold a symmetric range ([-limit, limit]); show the part with values, so a one-sided
  // distribution (Mamba's Δ, a post-ReLU input) fills the plot instead of half of it.
  const auto [lo, hi] = shared_x_ ? *shared_x_ : *valueRange();
  const double span = hi - lo;
  p->xAxis->setRange(lo - 0.02 * span, hi + 0.02 * span);
  refresh(true);
}

}  // namespace quench::gui
