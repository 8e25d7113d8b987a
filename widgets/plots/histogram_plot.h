#pragma once
// A histogram from bin edges and counts (as core/stats computes them), drawn as a filled step
// curve, with a log-y toggle: weight and activation distributions are mostly a narrow peak with
// rare large values, which only a log count axis shows.
#include <cstdint>
#include <vector>

#include "widgets/plots/plot_widget.h"

class QCheckBox;

namespace quench::gui {

class HistogramPlot : public PlotWidget {
  Q_OBJECT

 public:
  explicit HistogramPlot(QWidget* parent = nullptr);

  // edges: [bins + 1] ascending; counts: [bins]. More than maxBars bins are merged in runs of
  // neighbours for display (a 2048-bin histogram of bfloat16 weights otherwise shows a comb of
  // empty bins between representable values).
  void setData(const std::vector<double>& edges, const std::vector<int64_t>& counts);
  void clear();
  void setLogY(bool on);
  bool logY() const;
  // Bars drawn after merging (0 when empty).
  int displayedBins() const { return displayed_bins_; }

  static constexpr int kMaxBars = 256;

 Q_SIGNALS:
  void logYChanged(bool on);

 private:
  void rebuild();

  std::vector<double> edges_;
  std::vector<int64_t> counts_;
  QCheckBox* log_y_;
  int displayed_bins_ = 0;
};

}  // namespace quench::gui
