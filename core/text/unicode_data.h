#pragma once
// Unicode character data, generated into unicode_data.cpp by gen_unicode_data.py. Use it
// through core/text/unicode.h; these are the raw tables.
#include <cstddef>
#include <cstdint>

namespace quench::text::ucd {

enum Flag : uint8_t {
  kLetter = 1,      // \p{L}
  kNumber = 2,      // \p{N}
  kSpace = 4,       // White_Space, what \s and Rust's char::is_whitespace match
  kWord = 8,        // regex \w: Alphabetic, marks, Nd, Pc, Join_Control
  kNfcUnsafe = 16,  // may change under NFC or combine with its neighbour (quick check not "yes")
  kLowers = 32,     // lowercasing changes it
  kDecomposes = 64, // has a canonical decomposition (Hangul syllables excluded)
};

struct LowerEntry {
  uint32_t cp;
  uint8_t n;
  uint32_t lower[3];
};
struct DecompEntry {
  uint32_t cp;
  uint32_t offset, n;  // into kDecompChars
};
struct CccEntry {
  uint32_t cp;
  uint8_t ccc;
};
struct CompEntry {
  uint32_t first, second, composite;
};

extern const char* const kUnicodeVersion;
extern const uint16_t kFlagStage1[0x110000 / 256];
extern const uint8_t kFlagStage2[][256];
extern const LowerEntry kLower[];  // sorted by cp
extern const size_t kLowerCount;
extern const DecompEntry kDecomp[];  // sorted by cp; full canonical decompositions, Hangul excluded
extern const size_t kDecompCount;
extern const uint32_t kDecompChars[];
extern const CccEntry kCcc[];  // sorted by cp; only nonzero classes
extern const size_t kCccCount;
extern const CompEntry kComp[];  // sorted by (first, second); primary composites, Hangul excluded
extern const size_t kCompCount;

}  // namespace quench::text::ucd
