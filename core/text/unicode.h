#pragma once
// Code points, UTF-8 and the character classes the tokenizer pipeline asks about.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/text/unicode_data.h"

namespace quench::text {

inline uint8_t char_flags(uint32_t cp) {
  if (cp >= 0x110000) return 0;
  return ucd::kFlagStage2[ucd::kFlagStage1[cp >> 8]][cp & 0xFF];
}
inline bool is_letter(uint32_t cp) { return char_flags(cp) & ucd::kLetter; }
inline bool is_number(uint32_t cp) { return char_flags(cp) & ucd::kNumber; }
inline bool is_space(uint32_t cp) { return char_flags(cp) & ucd::kSpace; }
inline bool is_word(uint32_t cp) { return char_flags(cp) & ucd::kWord; }

// Length of the UTF-8 sequence a lead byte starts (1 for bytes that cannot lead: callers only
// use it on text checked by find_invalid_utf8).
inline size_t utf8_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Decodes the code point at p of valid UTF-8 (checked beforehand); *len gets its length.
inline uint32_t decode_utf8(const char* p, size_t* len) {
  const auto b0 = static_cast<unsigned char>(p[0]);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  auto cont = [&](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i]) & 0x3F); };
  if (b0 < 0xE0) {
    *len = 2;
    return (uint32_t(b0 & 0x1F) << 6) | cont(1);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return (uint32_t(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
  }
  *len = 4;
  return (uint32_t(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

void append_utf8(std::string& out, uint32_t cp);
std::string utf8(uint32_t cp);

// Byte offset of the first ill-formed UTF-8 sequence, or std::string_view::npos when valid.
size_t find_invalid_utf8(std::string_view s);
// Replaces each maximal ill-formed subsequence by U+FFFD, as Rust's String::from_utf8_lossy.
std::string from_utf8_lossy(std::string_view bytes);

// Full lowercase mapping, one code point at a time (no context: Σ always becomes σ), as
// Rust's char::to_lowercase. Input must be valid UTF-8.
std::string to_lower(std::string_view s);

// Number of code points of valid UTF-8.
size_t count_chars(std::string_view s);

}  // namespace quench::text
