#include "widgets/plots/bar_plot.h"

#include <algorithm>

#include <qcustomplot.h>

#include <cmath>

#include "core/util/error.h"

namespace quench::gui {

namespace {
constexpr int kMaxLabels = 40;
// Distinguishable on white and in grey print (ColorBrewer Set1, without yellow).
const QColor kColors[] = {QColor(55, 126, 184), QColor(228, 26, 28), QColor(77, 175, 74), QColor(152, 78, 163), QColor(255, 127, 0),
                          QColor(166, 86, 40)};
}  // namespace

BarPlot::BarPlot(QWidget* parent) : PlotWidget(parent) {
  QCustomPlot* p = plot();
  p->legend->setVisible(false);
  p->legend->setBrush(QColor(255, 255, 255, 220));
  p->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  p->xAxis->setTickLabelRotation(90);  // vertical: a long last name stays inside the plot
  refresh(false);
}

QStringList BarPlot::tickLabels() const {
  QStringList out;
  if (auto t = plot()->xAxis->ticker().dynamicCast<QCPAxisTickerText>())
    for (auto it = t->ticks().cbegin(); it != t->ticks().cend(); ++it) out << it.value();
  return out;
}

void BarPlot::setData(const QStringList& categories, const std::vector<Series>& series) {
  for (const auto& s : series)
    QUENCH_CHECK(s.values.size() == static_cast<size_t>(categories.size()), "bar plot: series '", s.name.toStdString(), "' has ",
                 s.values.size(), " values for ", categories.size(), " categories");
  categories_ = categories;
  series_ = series;
  QCustomPlot* p = plot();
  p->clearPlottables();
  // Every category named under its bars; beyond ~40 every k-th, so the names stay readable
  // (all of them are in the tooltip and the CSV).
  auto ticker = QSharedPointer<QCPAxisTickerText>::create();
  const int step = std::max(1, (static_cast<int>(categories.size()) + kMaxLabels - 1) / kMaxLabels);
  for (int i = 0; i < categories.size(); i += step) ticker->addTick(i, categories[i]);
  p->xAxis->setTicker(ticker);
  p->xAxis->grid()->setVisible(false);
  const auto n = static_cast<double>(std::max<size_t>(1, series.size()));
  const double width = 0.8 / n;
  double lo = 0, hi = 0;
  bool any = false;
  if (!group_) group_ = new QCPBarsGroup(p);
  auto* group = static_cast<QCPBarsGroup*>(group_);
  group->clear();
  group->setSpacing(0);
  for (size_t k = 0; k < series.size(); ++k) {
    auto* bars = new QCPBars(p->xAxis, p->yAxis);
    bars->setName(series[k].name);
    bars->setWidth(width);
    const QColor c = kColors[k % (sizeof(kColors) / sizeof(kColors[0]))];
    bars->setPen(QPen(c.darker(120)));
    bars->setBrush(c);
    bars->setBarsGroup(group);
    QVector<double> keys, values;
    for (int i = 0; i < categories.size(); ++i) {
      const double v = series[k].values[static_cast<size_t>(i)];
      if (std::isnan(v)) continue;
      keys << i;
      values << v;
      lo = any ? std::min(lo, v) : std::min(0.0, v);
      hi = any ? std::max(hi, v) : std::max(0.0, v);
      any = true;
    }
    bars->setData(keys, values, true);
  }
  p->legend->setVisible(series.size() > 1);
  keyRange(categories.size());
  const double pad = (hi - lo) * 0.08 + 1e-9;
  p->yAxis->setRange(lo < 0 ? lo - pad : 0, hi + pad);
  refresh(any);
}

QString BarPlot::toolTipAt(const QPoint& pos) const {
  const int64_t i = keyNear(pos, categories_.size(), [](int64_t) { return 0.0; });
  if (i < 0) return {};
  QString tip = categories_[static_cast<int>(i)];
  for (const auto& s : series_) {
    const double v = s.values[static_cast<size_t>(i)];
    tip += QStringLiteral("\n%1: %2").arg(s.name, std::isnan(v) ? tr("—") : QString::number(v, 'f', 2));
  }
  return tip;
}

}  // namespace quench::gui
