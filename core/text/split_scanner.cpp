#include "core/text/split_scanner.h"

#include "core/text/unicode.h"

namespace quench::text {

namespace {
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

enum Class { kL, kN, kS, kO };  // letter, number, White_Space, anything else

struct Char {
  uint32_t cp;
  size_t len;
  Class cls;
};

inline Char at(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    // ASCII without the table: the bulk of real text.
    Class c = kO;
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') c = kL;
    else if (b >= '0' && b <= '9') c = kN;
    else if (b == ' ' || (b >= 0x09 && b <= 0x0D)) c = kS;
    return {b, 1, c};
  }
  size_t len = 0;
  const uint32_t cp = decode_utf8(s.data() + i, &len);
  const uint8_t f = char_flags(cp);
  const Class c = (f & ucd::kLetter) ? kL : (f & ucd::kNumber) ? kN : (f & ucd::kSpace) ? kS : kO;
  return {cp, len, c};
}

// End of the run of characters of class c starting at i (at most max_chars of them).
inline size_t run(std::string_view s, size_t i, Class c, size_t max_chars = static_cast<size_t>(-1)) {
  size_t n = 0;
  while (i < s.size() && n < max_chars) {
    const Char ch = at(s, i);
    if (ch.cls != c) break;
    i += ch.len;
    ++n;
  }
  return i;
}

// 's 't 're 've 'm 'll 'd after the apostrophe at i; 0 when none. Case-insensitive matching
// (Llama-3, Qwen2) also accepts U+017F LATIN SMALL LETTER LONG S, which case-folds to 's'.
size_t contraction_end(std::string_view s, size_t i, bool ignore_case) {
  auto lower = [&](size_t k) -> int {
    if (k >= s.size()) return 0;
    const auto b = static_cast<unsigned char>(s[k]);
    if (b < 0x80) return ignore_case && b >= 'A' && b <= 'Z' ? b + 32 : b;
    return 0;
  };
  const size_t j = i + 1;
  const int a = lower(j);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return j + 1;
  if (ignore_case && s.compare(j, 2, "\xC5\xBF") == 0) return j + 2;  // ſ
  const int b = lower(j + 1);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return j + 2;
  return 0;
}

// \s+(?!\S)|\s+ from i, where s[i] is White_Space: the whole run when it ends the text, else
// the run less its last character (which then leads the next word), else that one character.
size_t whitespace_end(std::string_view s, size_t i) {
  size_t k = i, last = i, n = 0;
  while (k < s.size()) {
    const Char ch = at(s, k);
    if (ch.cls != kS) break;
    last = k;
    k += ch.len;
    ++n;
  }
  if (k == s.size() || n < 2) return k;
  return last;
}

size_t gpt2_end(std::string_view s, size_t i) {
  const Char c0 = at(s, i);
  if (c0.cp == '\'')
    if (const size_t e = contraction_end(s, i, false)) return e;
  if (c0.cp == ' ' && i + 1 < s.size()) {
    const Char c1 = at(s, i + 1);
    if (c1.cls != kS) return run(s, i + 1, c1.cls);
  }
  if (c0.cls != kS) return run(s, i, c0.cls);
  return whitespace_end(s, i);
}

inline bool is_crlf(uint32_t cp) { return cp == '\r' || cp == '\n'; }

size_t llama3_end(std::string_view s, size_t i, size_t max_digits) {
  const Char c0 = at(s, i);
  if (c0.cp == '\'')
    if (const size_t e = contraction_end(s, i, true)) return e;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c0.cls == kL) return run(s, i, kL);
  if (c0.cls != kN && !is_crlf(c0.cp) && i + c0.len < s.size() && at(s, i + c0.len).cls == kL) return run(s, i + c0.len, kL);
  // \p{N}{1,max}
  if (c0.cls == kN) return run(s, i, kN, max_digits);
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  size_t j = std::string_view::npos;
  if (c0.cp == ' ' && i + 1 < s.size() && at(s, i + 1).cls == kO) j = i + 1;
  else if (c0.cls == kO) j = i;
  if (j != std::string_view::npos) {
    size_t e = run(s, j, kO);
    while (e < s.size() && is_crlf(static_cast<unsigned char>(s[e]))) ++e;
    return e;
  }
  // \s*[\r\n]+ : through the last CR/LF of the whitespace run, when it has one.
  size_t k = i, after_crlf = 0;
  while (k < s.size()) {
    const Char ch = at(s, k);
    if (ch.cls != kS) break;
    k += ch.len;
    if (is_crlf(ch.cp)) after_crlf = k;
  }
  if (after_crlf) return after_crlf;
  return whitespace_end(s, i);
}
}  // namespace

std::optional<SplitScheme> known_split_scheme(std::string_view pattern) {
  if (pattern == kGpt2) return SplitScheme::Gpt2;
  if (pattern == kLlama3) return SplitScheme::Llama3;
  if (pattern == kQwen2) return SplitScheme::Qwen2;
  return std::nullopt;
}

const char* split_scheme_pattern(SplitScheme scheme) {
  switch (scheme) {
    case SplitScheme::Gpt2: return kGpt2;
    case SplitScheme::Llama3: return kLlama3;
    case SplitScheme::Qwen2: return kQwen2;
  }
  return "";
}

size_t split_match_end(SplitScheme scheme, std::string_view s, size_t i) {
  switch (scheme) {
    case SplitScheme::Gpt2: return gpt2_end(s, i);
    case SplitScheme::Llama3: return llama3_end(s, i, 3);
    case SplitScheme::Qwen2: return llama3_end(s, i, 1);
  }
  return s.size();
}

}  // namespace quench::text
