#pragma once
// A histogram from bin edges and counts (as core/stats computes them), drawn as a filled step
// curve, with a log-y toggle: weight and activation distributions are mostly a narrow peak with
// rare large values, which only a log count axis shows.
#include <cstdint>
#include <optional>
#include <utility>
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
  // A second distribution drawn as an outline over this one, on the same axes (the float weight
  // behind the compressed one); empty edges remove it.
  void setOverlay(const std::vector<double>& edges, const std::vector<int64_t>& counts);
  bool hasOverlay() const { return !overlay_counts_.empty(); }
  // The x range of the bins that hold values (nullopt when empty); and a range to show instead of
  // it, so that two plots share one x axis (nullopt: each its own).
  std::optional<std::pair<double, double>> valueRange() const;
  void setSharedXRange(std::optional<std::pair<double, double>> range);
  std::pair<double, double> xRange() const;
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
  std::vector<double> overlay_edges_;
  std::vector<int64_t> overlay_counts_;
  std::optional<std::pair<double, double>> shared_x_;
  QCheckBox* log_y_;
  int displayed_bins_ = 0;
};

}  // namespace quench::gui
