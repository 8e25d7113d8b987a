#include "widgets/layers/heat_scale.h"

#include <algorithm>
#include <cmath>

namespace quench::gui {

HeatScale::HeatScale(Mode mode, const std::vector<double>& values) : mode_(mode) {
  if (values.empty()) return;
  std::vector<double> v = values;
  std::sort(v.begin(), v.end());
  median_ = v[v.size() / 2];
  max_ = v.back();
}

double HeatScale::heat(double value) const {
  if (!std::isfinite(value)) return 0;
  if (mode_ == Mode::Count) {
    if (value <= 0 || max_ <= 0) return 0;
    // Any outlier is worth a glance: the faintest colour starts well above zero.
    return std::min(1.0, 0.3 + 0.7 * value / max_);
  }
  if (median_ <= 0 || value <= median_) return 0;
  return std::min(1.0, std::log(value / median_) / std::log(kSaturation));
}

QColor HeatScale::color(double heat) {
  if (heat <= 0.02) return {};
  const double t = std::clamp(heat, 0.0, 1.0);
  // Yellow (255, 230, 120) → red (220, 50, 40); alpha grows so mild heat stays subtle.
  const auto lerp = [t](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  return QColor(lerp(255, 220), lerp(230, 50), lerp(120, 40), lerp(90, 235));
}

}  // namespace quench::gui
