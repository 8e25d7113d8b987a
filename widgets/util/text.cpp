#include "widgets/util/text.h"

#include <QStringList>

namespace quench::gui {

QString shapeText(const std::vector<int64_t>& shape) {
  QStringList parts;
  for (int64_t d : shape) parts << QString::number(d);
  return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
}

QString compactCount(int64_t n) {
  const double v = static_cast<double>(n);
  const auto three = [](double x, const char* unit) {
    const int decimals = x >= 100 ? 0 : x >= 10 ? 1 : 2;
    return QString::number(x, 'f', decimals) + QLatin1Char(' ') + QLatin1String(unit);
  };
  if (v >= 1e9) return three(v / 1e9, "B");
  if (v >= 1e6) return three(v / 1e6, "M");
  if (v >= 1e3) return three(v / 1e3, "k");
  return QString::number(n);
}

}  // namespace quench::gui
