#pragma once
// The selected layer before and after the last run: its setting, bits and errors, and the weight
// distribution of the float weight next to the compressed (quantized-then-dequantized) one on one
// x axis, where the quantization grid shows as separate spikes, and the distribution of the error
// (compressed − float) below them.
#include "widgets/detail/detail_page.h"

class QLabel;

namespace quench::gui {

class HistogramPlot;

class RunPage : public DetailPage {
  Q_OBJECT

 public:
  explicit RunPage(QWidget* parent = nullptr);

  QString pageTitle() const override { return tr("Before / After"); }
  void showLayer(const ModelSession& session, int row) override;

  HistogramPlot* before() const { return before_; }
  HistogramPlot* after() const { return after_; }
  HistogramPlot* error() const { return error_; }
  QString numbersText() const;

 private:
  QLabel* numbers_;
  HistogramPlot* before_;
  HistogramPlot* after_;
  HistogramPlot* error_;
};

}  // namespace quench::gui
