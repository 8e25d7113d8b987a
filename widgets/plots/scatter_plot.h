#pragma once
// Points with labels, some highlighted, and optionally the Pareto front through them — model size
// against quality for every run of a model, the runs being compared in colour.
#include <QString>

#include <vector>

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

class ScatterPlot : public PlotWidget {
  Q_OBJECT

 public:
  struct Point {
    double x = 0, y = 0;
    QString label;
    bool highlighted = false;
  };

  explicit ScatterPlot(QWidget* parent = nullptr);

  // lower_is_better: the y metric's direction (perplexity: lower; accuracy: higher); x_lower_is_better
  // the x metric's (size: lower; tokens/s: higher). The front joins the points no other point beats
  // on both axes.
  void setPoints(const std::vector<Point>& points, bool lower_is_better, bool x_lower_is_better = true);
  // Indices of the points on the Pareto front, from the best x to the worst.
  const std::vector<size_t>& front() const { return front_; }
  int pointCount() const { return static_cast<int>(points_.size()); }
  QString toolTipAt(const QPoint& pos) const override;

  static std::vector<size_t> paretoFront(const std::vector<Point>& points, bool lower_is_better, bool x_lower_is_better = true);

 private:
  std::vector<Point> points_;
  std::vector<size_t> front_;
  int first_label_ = 0;
};

}  // namespace quench::gui
