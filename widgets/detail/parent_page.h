#pragma once
// The selected layer of a compressed model against the float model it came from (Model → Compare
// with Float Model): how it is stored, its weight SQNR, which input channels carry the error, and
// the float weight's distribution next to this model's, where a quantization grid shows as spikes.
#include "widgets/detail/detail_page.h"

class QLabel;

namespace quench::gui {

class ChannelPlot;
class HistogramPlot;

class ParentPage : public DetailPage {
  Q_OBJECT

 public:
  explicit ParentPage(QWidget* parent = nullptr);

  QString pageTitle() const override { return tr("vs Float Model"); }
  void showLayer(const ModelSession& session, int row) override;

  ChannelPlot* channelError() const { return channels_; }
  HistogramPlot* floatHistogram() const { return float_; }
  HistogramPlot* thisHistogram() const { return this_; }
  QString numbersText() const;

 private:
  QLabel* numbers_;
  ChannelPlot* channels_;
  HistogramPlot* float_;
  HistogramPlot* this_;
};

}  // namespace quench::gui
