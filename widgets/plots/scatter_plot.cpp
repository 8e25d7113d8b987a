#include "widgets/plots/scatter_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace quench::gui {

namespace {
const QColor kOther(150, 150, 150);
const QColor kHighlight(228, 26, 28);
const QColor kFront(55, 126, 184);
}  // namespace

ScatterPlot::ScatterPlot(QWidget* parent) : PlotWidget(parent) {
  QCustomPlot* p = plot();
  QCPGraph* front = p->addGraph();
  front->setName(tr("Pareto front"));
  front->setPen(QPen(kFront, 1.5, Qt::DashLine));
  front->setLineStyle(QCPGraph::lsStepLeft);
  QCPGraph* others = p->addGraph();
  others->setName(tr("other runs of the model"));
  others->setLineStyle(QCPGraph::lsNone);
  others->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kOther, 7));
  QCPGraph* chosen = p->addGraph();
  chosen->setName(tr("compared runs"));
  chosen->setLineStyle(QCPGraph::lsNone);
  chosen->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kHighlight, 10));
  p->legend->setVisible(true);
  p->legend->setBrush(QColor(255, 255, 255, 220));
  first_label_ = p->itemCount();  // items before this one are PlotWidget's own
  refresh(false);
}

std::vector<size_t> ScatterPlot::paretoFront(const std::vector<Point>& points, bool lower_is_better, bool x_lower_is_better) {
  std::vector<size_t> order(points.size());
  std::iota(order.begin(), order.end(), 0);
  const auto better = [lower_is_better](double a, double b) { return lower_is_better ? a < b : a > b; };
  const auto better_x = [x_lower_is_better](double a, double b) { return x_lower_is_better ? a < b : a > b; };
  // Best x first, then quality: a point is on the front when it beats the best quality seen at any
  // better x.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (points[a].x != points[b].x) return better_x(points[a].x, points[b].x);
    return better(points[a].y, points[b].y);
  });
  std::vector<size_t> front;
  for (size_t i : order)
    if (front.empty() || better(points[i].y, points[front.back()].y)) front.push_back(i);
  return front;
}

void ScatterPlot::setPoints(const std::vector<Point>& points, bool lower_is_better, bool x_lower_is_better) {
  points_ = points;
  front_ = paretoFront(points_, lower_is_better, x_lower_is_better);
  QCustomPlot* p = plot();
  while (p->itemCount() > first_label_) p->removeItem(p->itemCount() - 1);
  QVector<double> fx, fy, ox, oy, hx, hy;
  // The line is drawn by increasing x, whichever direction is better.
  std::vector<size_t> line = front_;
  std::sort(line.begin(), line.end(), [&](size_t a, size_t b) { return points_[a].x < points_[b].x; });
  for (size_t i : line) {
    fx << points_[i].x;
    fy << points_[i].y;
  }
  for (const auto& pt : points_) {
    (pt.highlighted ? hx : ox) << pt.x;
    (pt.highlighted ? hy : oy) << pt.y;
    auto* label = new QCPItemText(p);
    label->setText(pt.label);
    label->setColor(pt.highlighted ? kHighlight.darker(130) : kOther.darker(140));
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->position->setCoords(pt.x, pt.y);
    label->setPadding(QMargins(6, 0, 0, 4));
  }
  p->graph(0)->setData(fx, fy, true);
  p->graph(1)->setData(ox, oy, true);
  p->graph(2)->setData(hx, hy, true);
  if (!points_.empty()) {
    auto [xmin, xmax] = std::minmax_element(points_.begin(), points_.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
    auto [ymin, ymax] = std::minmax_element(points_.begin(), points_.end(), [](const Point& a, const Point& b) { return a.y < b.y; });
    const double dx = std::max(xmax->x - xmin->x, std::abs(xmax->x) * 0.1 + 1e-9);
    const double dy = std::max(ymax->y - ymin->y, std::abs(ymax->y) * 0.05 + 1e-9);
    // Room on the right for the labels of the rightmost points.
    p->xAxis->setRange(xmin->x - 0.08 * dx, xmax->x + 0.35 * dx);
    p->yAxis->setRange(ymin->y - 0.12 * dy, ymax->y + 0.2 * dy);
  }
  refresh(!points_.empty());
}

QString ScatterPlot::toolTipAt(const QPoint& pos) const {
  const QCustomPlot* p = plot();
  const QPoint local = p->mapFrom(this, pos);
  double best = 12 * 12;
  const Point* hit = nullptr;
  for (const auto& pt : points_) {
    const double dx = p->xAxis->coordToPixel(pt.x) - local.x(), dy = p->yAxis->coordToPixel(pt.y) - local.y();
    if (dx * dx + dy * dy < best) {
      best = dx * dx + dy * dy;
      hit = &pt;
    }
  }
  if (!hit) return {};
  return tr("%1\n%2: %3\n%4: %5").arg(hit->label, p->xAxis->label()).arg(hit->x, 0, 'g', 4).arg(p->yAxis->label()).arg(hit->y, 0, 'g', 5);
}

}  // namespace quench::gui
