#include "widgets/plots/channel_plot.h"

#include <qcustomplot.h>

#include <algorithm>

#include "core/util/error.h"

namespace quench::gui {

namespace {
const QColor kNormal(70, 110, 170);
const QColor kOutlier(215, 48, 39);
}  // namespace

ChannelPlot::ChannelPlot(QWidget* parent)
    : PlotWidget(parent), channel_name_(tr("channel")), value_name_(tr("value")) {
  QCustomPlot* p = plot();
  QCPGraph* normal = p->addGraph();
  normal->setLineStyle(QCPGraph::lsImpulse);
  normal->setPen(QPen(kNormal, 1.5));
  QCPGraph* outliers = p->addGraph();
  outliers->setLineStyle(QCPGraph::lsImpulse);
  outliers->setPen(QPen(kOutlier, 2.0));
  outliers->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kOutlier, 6));
  outliers->setName(tr("outlier"));
  // Items are looked up by index later, so that no QCustomPlot type appears in the header.
  line_item_ = p->itemCount();
  auto* line = new QCPItemStraightLine(p);
  line->setPen(QPen(kOutlier, 1, Qt::DashLine));
  line->setVisible(false);
  auto* label = new QCPItemText(p);
  label->setColor(kOutlier);
  // Below the line: above it the label would leave the axes whenever the line is near the top.
  label->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
  label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
  label->position->setTypeY(QCPItemPosition::ptPlotCoords);
  label->setVisible(false);
  refresh(false);
}

void ChannelPlot::setNames(const QString& channel, const QString& value) {
  channel_name_ = channel;
  value_name_ = value;
  setAxisLabels(channel, value);
}

void ChannelPlot::clear() { setData({}, {}, 0, 0); }

void ChannelPlot::setData(const std::vector<double>& values, const std::vector<int64_t>& outliers, double threshold,
                          double reference) {
  for (int64_t c : outliers)
    QUENCH_CHECK(c >= 0 && c < static_cast<int64_t>(values.size()), "channel plot: outlier channel ", c,
                 " outside [0, ", values.size(), ")");
  values_ = values;
  outliers_ = outliers;
  std::sort(outliers_.begin(), outliers_.end());
  threshold_ = threshold;
  reference_ = reference;

  QCustomPlot* p = plot();
  QVector<double> nk, nv, ok, ov;
  double peak = 0;
  for (size_t c = 0; c < values_.size(); ++c) {
    const bool outlier = std::binary_search(outliers_.begin(), outliers_.end(), static_cast<int64_t>(c));
    (outlier ? ok : nk).push_back(static_cast<double>(c));
    (outlier ? ov : nv).push_back(values_[c]);
    peak = std::max(peak, values_[c]);
  }
  p->graph(0)->setData(nk, nv, true);
  p->graph(1)->setData(ok, ov, true);

  auto* line = static_cast<QCPItemStraightLine*>(p->item(line_item_));
  auto* label = static_cast<QCPItemText*>(p->item(line_item_ + 1));
  const bool show_line = threshold_ > 0 && !values_.empty();
  line->setVisible(show_line);
  label->setVisible(show_line);
  if (show_line) {
    line->point1->setCoords(0, threshold_);
    line->point2->setCoords(1, threshold_);
    label->position->setCoords(0.99, threshold_);
    label->setText(reference_ > 0 ? tr("outlier threshold (%1× median)").arg(threshold_ / reference_, 0, 'g', 3)
                                  : tr("outlier threshold"));
  }
  showKeys(static_cast<int64_t>(values_.size()));
  p->yAxis->setRange(0, std::max(peak, threshold_) * 1.12 + 1e-30);
  refresh(!values_.empty());
}

QString ChannelPlot::toolTipAt(const QPoint& pos) const {
  const int64_t best = keyNear(pos, static_cast<int64_t>(values_.size()), [this](int64_t c) { return values_[c]; });
  if (best < 0) return {};
  QString tip = tr("%1 %2\n%3 %4").arg(channel_name_).arg(best).arg(value_name_).arg(values_[best], 0, 'g', 5);
  if (reference_ > 0) tip += tr("\n%1× median").arg(values_[best] / reference_, 0, 'f', 1);
  if (std::binary_search(outliers_.begin(), outliers_.end(), best)) tip += tr("\noutlier");
  return tip;
}

QPoint ChannelPlot::pointOf(int64_t channel) const {
  QUENCH_CHECK(channel >= 0 && channel < static_cast<int64_t>(values_.size()), "channel plot: no channel ", channel);
  const QCustomPlot* p = plot();
  const QPointF px(p->xAxis->coordToPixel(static_cast<double>(channel)), p->yAxis->coordToPixel(values_[channel]));
  return p->mapTo(this, px.toPoint());
}

}  // namespace quench::gui
