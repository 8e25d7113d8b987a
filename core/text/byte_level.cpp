#include "core/text/byte_level.h"

#include <array>

#include "core/text/unicode.h"

namespace quench::text {

namespace {
struct Maps {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 0x200> to_byte{};  // every byte character is below U+0200
  std::array<std::string, 256> utf8_of{};
  Maps() {
    to_byte.fill(-1);
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = self ? static_cast<uint32_t>(b) : 0x100 + n++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
      utf8_of[b] = utf8(to_char[b]);
    }
  }
};
const Maps& maps() {
  static const Maps m;
  return m;
}
}  // namespace

uint32_t byte_to_char(uint8_t b) { return maps().to_char[b]; }

int char_to_byte(uint32_t cp) { return cp < 0x200 ? maps().to_byte[cp] : -1; }

std::string bytes_to_chars(std::string_view raw) {
  const Maps& m = maps();
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) out += m.utf8_of[b];
  return out;
}

bool chars_to_bytes(std::string_view mapped, std::string& out) {
  size_t i = 0;
  while (i < mapped.size()) {
    size_t len = 0;
    const uint32_t cp = decode_utf8(mapped.data() + i, &len);
    const int b = char_to_byte(cp);
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
    i += len;
  }
  return true;
}

}  // namespace quench::text
