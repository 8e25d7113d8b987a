#include "core/text/unicode_norm.h"

#include <algorithm>
#include <vector>

#include "core/text/unicode.h"

namespace quench::text {

namespace {
// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint8_t ccc(uint32_t cp) {
  if (!(char_flags(cp) & ucd::kNfcUnsafe)) return 0;
  const auto* end = ucd::kCcc + ucd::kCccCount;
  const auto* e = std::lower_bound(ucd::kCcc, end, cp, [](const ucd::CccEntry& x, uint32_t c) { return x.cp < c; });
  return e != end && e->cp == cp ? e->ccc : 0;
}

void decompose_into(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (char_flags(cp) & ucd::kDecomposes) {
    const auto* end = ucd::kDecomp + ucd::kDecompCount;
    const auto* e = std::lower_bound(ucd::kDecomp, end, cp, [](const ucd::DecompEntry& x, uint32_t c) { return x.cp < c; });
    if (e != end && e->cp == cp) {
      out.insert(out.end(), ucd::kDecompChars + e->offset, ucd::kDecompChars + e->offset + e->n);
      return;
    }
  }
  out.push_back(cp);
}

// Full canonical decomposition followed by the canonical ordering of combining marks.
std::vector<uint32_t> decompose(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    decompose_into(decode_utf8(s.data() + i, &len), out);
    i += len;
  }
  for (size_t a = 0; a < out.size();) {
    if (ccc(out[a]) == 0) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b < out.size() && ccc(out[b]) != 0) ++b;
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(a), out.begin() + static_cast<std::ptrdiff_t>(b),
                     [](uint32_t x, uint32_t y) { return ccc(x) < ccc(y); });
    a = b;
  }
  return out;
}

// The primary composite of (a, b), or 0.
uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto* end = ucd::kComp + ucd::kCompCount;
  const auto* e = std::lower_bound(ucd::kComp, end, std::make_pair(a, b), [](const ucd::CompEntry& x, const std::pair<uint32_t, uint32_t>& k) {
    return x.first != k.first ? x.first < k.first : x.second < k.second;
  });
  return e != end && e->first == a && e->second == b ? e->composite : 0;
}

std::string encode(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size());
  for (uint32_t cp : cps) append_utf8(out, cp);
  return out;
}
}  // namespace

bool may_change_under_nfc(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    if (char_flags(decode_utf8(s.data() + i, &len)) & ucd::kNfcUnsafe) return true;
    i += len;
  }
  return false;
}

std::string nfd(std::string_view s) {
  // The NFC quick check does not apply: composed characters (é) pass it and still decompose.
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(s);
  return encode(decompose(s));
}

std::string nfc(std::string_view s) {
  if (!may_change_under_nfc(s)) return std::string(s);
  const std::vector<uint32_t> d = decompose(s);
  std::vector<uint32_t> out;
  out.reserve(d.size());
  std::ptrdiff_t starter = -1;
  uint8_t last_ccc = 0;  // class of the last character kept after the starter
  for (uint32_t cp : d) {
    const uint8_t c = ccc(cp);
    if (starter >= 0) {
      const bool adjacent = static_cast<size_t>(starter) + 1 == out.size();
      if (adjacent || (last_ccc != 0 && last_ccc < c)) {
        if (const uint32_t comp = compose_pair(out[static_cast<size_t>(starter)], cp)) {
          out[static_cast<size_t>(starter)] = comp;
          continue;
        }
      }
    }
    if (c == 0) {
      starter = static_cast<std::ptrdiff_t>(out.size());
      last_ccc = 0;
    } else {
      last_ccc = c;
    }
    out.push_back(cp);
  }
  return encode(out);
}

}  // namespace quench::text
