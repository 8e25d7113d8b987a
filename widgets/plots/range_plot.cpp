#include "widgets/plots/range_plot.h"

#include <qcustomplot.h>

#include <algorithm>

#include "core/util/error.h"

namespace quench::gui {

namespace {
const QColor kBand(50, 130, 90);
}

RangePlot::RangePlot(QWidget* parent) : PlotWidget(parent), channel_name_(tr("channel")) {
  QCustomPlot* p = plot();
  QCPGraph* top = p->addGraph();
  QCPGraph* bottom = p->addGraph();
  for (QCPGraph* g : {top, bottom}) {
    g->setLineStyle(QCPGraph::lsStepCenter);
    g->setPen(QPen(kBand, 1));
  }
  top->setBrush(QColor(kBand.red(), kBand.green(), kBand.blue(), 80));
  top->setChannelFillGraph(bottom);
  setAxisLabels(channel_name_, tr("weight"));
  refresh(false);
}

void RangePlot::setChannelName(const QString& channel) {
  channel_name_ = channel;
  setAxisLabels(channel, tr("weight"));
}

void RangePlot::clear() { setData({}, {}); }

void RangePlot::setData(const std::vector<double>& min, const std::vector<double>& max) {
  QUENCH_CHECK(min.size() == max.size(), "range plot: ", min.size(), " minima for ", max.size(), " maxima");
  min_ = min;
  max_ = max;
  QVector<double> keys(static_cast<int>(min.size()));
  for (int c = 0; c < keys.size(); ++c) keys[c] = c;
  QCustomPlot* p = plot();
  p->graph(0)->setData(keys, QVector<double>(max.begin(), max.end()), true);
  p->graph(1)->setData(keys, QVector<double>(min.begin(), min.end()), true);
  if (!min.empty()) {
    const double lo = *std::min_element(min.begin(), min.end());
    const double hi = *std::max_element(max.begin(), max.end());
    const double pad = 0.06 * std::max(hi - lo, 1e-30);
    showKeys(static_cast<int64_t>(min.size()));
    p->yAxis->setRange(lo - pad, hi + pad);
  }
  refresh(!min.empty());
}

QString RangePlot::toolTipAt(const QPoint& pos) const {
  // The widest band near the cursor: the channel a user hovering a spike means.
  const int64_t best =
      keyNear(pos, static_cast<int64_t>(min_.size()), [this](int64_t c) { return max_[c] - min_[c]; });
  if (best < 0) return {};
  return tr("%1 %2\nmin %3\nmax %4")
      .arg(channel_name_)
      .arg(best)
      .arg(min_[best], 0, 'g', 5)
      .arg(max_[best], 0, 'g', 5);
}

}  // namespace quench::gui
