#include "core/io/e4m3.h"

#include <array>
#include <cmath>

namespace quench {

at::Tensor e4m3_values(const at::Tensor& bytes) {
  static const at::Tensor table = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) {
      const float sign = (b & 0x80) ? -1.f : 1.f;
      const int e = (b >> 3) & 0xF, m = b & 0x7;
      if (e == 0xF && m == 0x7) t[b] = NAN;
      else if (e == 0) t[b] = sign * std::ldexp(m / 8.f, -6);
      else t[b] = sign * std::ldexp(1.f + m / 8.f, e - 7);
    }
    return at::from_blob(t.data(), {256}, at::kFloat).clone();
  }();
  return table.to(bytes.device()).index_select(0, bytes.to(at::kLong).reshape(-1)).reshape(bytes.sizes());
}

}  // namespace quench
