#include "widgets/plots/channel_pair_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace quench::gui {

namespace {
const QColor kFirst(215, 110, 40);
const QColor kSecond(50, 100, 170);
}  // namespace

ChannelPairPlot::ChannelPairPlot(QWidget* parent) : PlotWidget(parent) {
  QCustomPlot* p = plot();
  for (const QColor& c : {kFirst, kSecond}) {
    QCPGraph* g = p->addGraph();
    g->setLineStyle(QCPGraph::lsLine);
    g->setPen(QPen(c, 1.2));
  }
  p->yAxis->setScaleType(QCPAxis::stLogarithmic);
  p->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
  p->yAxis->setNumberFormat(QStringLiteral("eb"));
  p->yAxis->setNumberPrecision(0);
  p->legend->setVisible(true);
  p->legend->setFont(font());
  p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  refresh(false);
}

void ChannelPairPlot::clear() { setData({}, {}, first_name_, second_name_); }

void ChannelPairPlot::setData(const std::vector<double>& first, const std::vector<double>& second, const QString& first_name,
                              const QString& second_name) {
  QUENCH_CHECK(first.size() == second.size(), "channel pair plot: ", first.size(), " and ", second.size(), " channels");
  first_ = first;
  second_ = second;
  first_name_ = first_name;
  second_name_ = second_name;
  QCustomPlot* p = plot();
  double lo = 0, hi = 0;
  for (int s = 0; s < 2; ++s) {
    const std::vector<double>& v = s == 0 ? first_ : second_;
    QVector<double> keys, values;
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(v[i] > 0) || !std::isfinite(v[i])) continue;  // a log axis has no place for 0
      keys.push_back(static_cast<double>(i));
      values.push_back(v[i]);
      lo = lo > 0 ? std::min(lo, v[i]) : v[i];
      hi = std::max(hi, v[i]);
    }
    p->graph(s)->setData(keys, values, true);
    p->graph(s)->setName(s == 0 ? first_name : second_name);
  }
  if (first_.empty() || hi <= 0) {
    refresh(false);
    return;
  }
  showKeys(static_cast<int64_t>(first_.size()));
  p->yAxis->setRange(lo / 1.5, hi * 3.0);  // room for the legend above the largest value
  refresh(true);
}

QString ChannelPairPlot::toolTipAt(const QPoint& pos) const {
  const int64_t c = keyNear(pos, channels(), [this](int64_t i) { return std::max(first_[static_cast<size_t>(i)], second_[static_cast<size_t>(i)]); });
  if (c < 0) return {};
  const double a = first_[static_cast<size_t>(c)], b = second_[static_cast<size_t>(c)];
  return tr("channel %1\n%2: %3\n%4: %5\nratio %6").arg(c).arg(first_name_).arg(a, 0, 'g', 4).arg(second_name_).arg(b, 0, 'g', 4).arg(b > 0 ? a / b : 0.0, 0, 'g', 3);
}

}  // namespace quench::gui
