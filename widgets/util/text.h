#pragma once
// Text for numbers and shapes, the same in every view.
#include <QString>

#include <cstdint>
#include <vector>

namespace quench::gui {

QString shapeText(const std::vector<int64_t>& shape);  // "[256, 688]"
// Model sizes as people say them: "5.40 M", "671 k", "7.24 B" (three significant digits).
QString compactCount(int64_t n);

}  // namespace quench::gui
