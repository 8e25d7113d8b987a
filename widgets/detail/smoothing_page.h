#pragma once
// SmoothQuant's view of a layer after a calibration: each input channel's activation range
// (|X| max) next to the weight's range over that channel (|W| max), and what smoothing with a
// migration strength α does to both: s_j = max|X_j|^α / max|W_j|^(1−α), X_j / s_j and W_j · s_j.
// The spread (largest channel over the median) says how hard a per-tensor grid has it.
#include "widgets/detail/detail_page.h"

#include <vector>

class QCheckBox;
class QDoubleSpinBox;
class QLabel;

namespace quench::gui {

class ChannelPairPlot;

class SmoothingPage : public DetailPage {
  Q_OBJECT

 public:
  explicit SmoothingPage(QWidget* parent = nullptr);

  QString pageTitle() const override { return tr("Smoothing"); }
  void showLayer(const ModelSession& session, int row) override;

  ChannelPairPlot* plot() const { return plot_; }
  QDoubleSpinBox* alpha() const { return alpha_; }
  QCheckBox* smoothed() const { return smoothed_; }
  QString numbersText() const;
  // Largest channel over the median channel, before and after smoothing with alpha(); 0 when
  // nothing is shown.
  double activationSpread(bool smoothed) const;
  double weightSpread(bool smoothed) const;

 private:
  void redraw();

  std::vector<double> x_, w_;  // per input channel
  QLabel* numbers_;
  QDoubleSpinBox* alpha_;
  QCheckBox* smoothed_;
  ChannelPairPlot* plot_;
};

}  // namespace quench::gui
