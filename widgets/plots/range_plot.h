#pragma once
// Per-output-channel weight ranges: a band from each channel's min to its max. Channels whose
// band sticks out need a larger quantization scale; per-channel scales exist for them.
#include <cstdint>
#include <vector>

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

class RangePlot : public PlotWidget {
  Q_OBJECT

 public:
  explicit RangePlot(QWidget* parent = nullptr);

  void setChannelName(const QString& channel);
  // min, max: [channels], min[c] ≤ max[c].
  void setData(const std::vector<double>& min, const std::vector<double>& max);
  void clear();

  QString toolTipAt(const QPoint& pos) const override;

 private:
  QString channel_name_;
  std::vector<double> min_, max_;
};

}  // namespace quench::gui
