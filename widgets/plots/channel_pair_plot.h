#pragma once
// Two values per channel on one logarithmic axis: each input channel's activation range and the
// weight's range over the same channel (SmoothQuant's view: where the activation's outlier
// channels are, and how much room the weight has to take their scale). Hovering names the
// channel and both values.
#include <cstdint>
#include <vector>

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

class ChannelPairPlot : public PlotWidget {
  Q_OBJECT

 public:
  explicit ChannelPairPlot(QWidget* parent = nullptr);

  // first, second: [channels], the same length; names for the legend and tooltips.
  void setData(const std::vector<double>& first, const std::vector<double>& second, const QString& first_name, const QString& second_name);
  void clear();
  int64_t channels() const { return static_cast<int64_t>(first_.size()); }
  QString toolTipAt(const QPoint& pos) const override;

 private:
  std::vector<double> first_, second_;
  QString first_name_, second_name_;
};

}  // namespace quench::gui
