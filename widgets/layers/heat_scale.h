#pragma once
// Colours a statistic relative to the same statistic over the whole model, so the layers that
// stand out jump out: a layer at the model's median is uncoloured, one at kSaturation× the
// median (or, for counts, the model's largest count) is full red.
#include <QColor>

#include <vector>

namespace quench::gui {

class HeatScale {
 public:
  enum class Mode {
    RatioToMedian,  // magnitudes (absmax, kurtosis): heat grows with log(value / median)
    Count,          // counts (outlier channels): 0 is cold, the model's largest is hottest
  };

  HeatScale() = default;
  HeatScale(Mode mode, const std::vector<double>& values);

  // In [0, 1].
  double heat(double value) const;
  double median() const { return median_; }

  // A background for a heat: invalid (no colour) at 0, pale yellow through orange to red.
  static QColor color(double heat);

  static constexpr double kSaturation = 8.0;

 private:
  Mode mode_ = Mode::RatioToMedian;
  double median_ = 0, max_ = 0;
};

}  // namespace quench::gui
