#pragma once
// The weight statistics of one layer: the distribution of all its weights, each input channel's
// magnitude with the outlier channels marked, and each output channel's range.
#include "widgets/detail/detail_page.h"

class QLabel;

namespace quench::gui {

class ChannelPlot;
class HistogramPlot;
class RangePlot;

class WeightPage : public DetailPage {
  Q_OBJECT

 public:
  explicit WeightPage(QWidget* parent = nullptr);

  QString pageTitle() const override { return tr("Weights"); }
  void showLayer(const ModelSession& session, int row) override;

  HistogramPlot* histogram() const { return histogram_; }
  ChannelPlot* inputChannels() const { return channels_; }
  RangePlot* outputRanges() const { return ranges_; }
  QString numbersText() const;

 private:
  QLabel* numbers_;
  HistogramPlot* histogram_;
  ChannelPlot* channels_;
  RangePlot* ranges_;
};

}  // namespace quench::gui
