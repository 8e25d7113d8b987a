#pragma once
// The activation statistics of one layer from the last calibration shown: a table of the points
// about the layer (its input and output; for a Mamba mixer's layers also the mixer's scan inputs
// x, Δ, B, C and output y), and for the point picked there its distribution (log-y by default:
// activations are a narrow peak with rare huge values) and each channel's absmax with the outlier
// channels marked.
#include <QStringList>

#include <map>
#include <string>
#include <vector>

#include "widgets/detail/detail_page.h"

class QLabel;
class QTableWidget;

namespace quench {
struct LayerStats;
class Model;
}

namespace quench::gui {

class ChannelPlot;
class HistogramPlot;

class ActivationPage : public DetailPage {
  Q_OBJECT

 public:
  explicit ActivationPage(QWidget* parent = nullptr);

  QString pageTitle() const override { return tr("Activations"); }
  void showLayer(const ModelSession& session, int row) override;

  // Shows the listed point whose name ends in ":<suffix>" ("input", "x", "dt", …); false when none
  // does. The choice is kept while other layers are selected.
  bool selectPoint(const QString& suffix);
  // Selects a point by its full name ("model.layers.0.mixer:dt"); false when the page does not list it.
  bool selectPointNamed(const QString& point);
  // Full names of the points listed for the layer shown, in table order.
  QStringList points() const;
  QString currentPoint() const;
  HistogramPlot* histogram() const { return histogram_; }
  ChannelPlot* channels() const { return channels_; }
  QTableWidget* table() const { return table_; }
  QString numbersText() const;

 private:
  void showPoint(int index);

  QLabel* numbers_;
  QTableWidget* table_;
  HistogramPlot* histogram_;
  ChannelPlot* channels_;
  QString meaningOf(const std::string& point) const;

  std::vector<const LayerStats*> shown_;
  std::map<std::string, QString> meanings_;  // point → its architecture's description
  const quench::Model* meanings_of_ = nullptr;  // the model they were read from
  QString suffix_ = QStringLiteral("input");  // the point kind the user last picked
};

}  // namespace quench::gui
