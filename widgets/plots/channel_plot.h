#pragma once
// One value per channel (e.g. each input channel's absmax), outlier channels in red above a
// dashed threshold line, and a hover tooltip naming the channel and its value. For thousands of
// channels the bars become impulses, which QCustomPlot thins to the pixels available.
#include <cstdint>
#include <vector>

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

class ChannelPlot : public PlotWidget {
  Q_OBJECT

 public:
  explicit ChannelPlot(QWidget* parent = nullptr);

  // channel: what one entry is called in tooltips ("input channel"); value: what it holds ("absmax").
  void setNames(const QString& channel, const QString& value);
  // values: [channels]; outliers: indices into values; threshold: the outlier line (≤ 0: none);
  // reference: what ratios in tooltips are relative to (the median; ≤ 0: no ratio).
  void setData(const std::vector<double>& values, const std::vector<int64_t>& outliers, double threshold,
               double reference);
  void clear();

  // Over the channels within a few pixels of pos, the one with the largest value (so a thin
  // outlier spike is easy to hit); its index, value, ratio to the reference, and outlier flag.
  QString toolTipAt(const QPoint& pos) const override;
  // Where channel c's value is drawn, in this widget's coordinates (tests hover it).
  QPoint pointOf(int64_t channel) const;
  int64_t outlierCount() const { return static_cast<int64_t>(outliers_.size()); }

 private:
  QString channel_name_, value_name_;
  std::vector<double> values_;
  std::vector<int64_t> outliers_;  // sorted
  double threshold_ = 0, reference_ = 0;
  int line_item_ = 0;  // the threshold line; its label is the next item
};

}  // namespace quench::gui
