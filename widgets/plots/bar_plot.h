#pragma once
// Grouped bars: one group per category (a layer), one bar per series (a run) — the per-layer
// errors of the runs being compared. Missing values (NaN) leave a gap.
#include <QString>
#include <QStringList>

#include <vector>

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

class BarPlot : public PlotWidget {
  Q_OBJECT

 public:
  struct Series {
    QString name;
    std::vector<double> values;  // one per category; NaN: none
  };

  explicit BarPlot(QWidget* parent = nullptr);

  void setData(const QStringList& categories, const std::vector<Series>& series);
  int categoryCount() const { return static_cast<int>(categories_.size()); }
  // The names written under the bars (every category, or every k-th beyond 40).
  QStringList tickLabels() const;
  int seriesCount() const { return static_cast<int>(series_.size()); }
  QString toolTipAt(const QPoint& pos) const override;

 private:
  QStringList categories_;
  std::vector<Series> series_;
  QObject* group_ = nullptr;  // the QCPBarsGroup, kept out of this header
};

}  // namespace quench::gui
