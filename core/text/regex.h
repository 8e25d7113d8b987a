#pragma once
// The general regex engine for Split pre-tokenizers and Replace normalizers/decoders: PCRE2
// (UTF + UCP, JIT-compiled). The tokenizers library uses Oniguruma; for the patterns tokenizer
// files carry (Unicode classes, lookahead, (?i:...)) the two agree, except that PCRE2 10.42's \s
// also matches U+180E. The well-known split patterns do not come here at all: split_scanner.h
// matches them by hand, faster and with the exact White_Space class.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quench::text {

class Regex {
 public:
  // Throws quench::Error naming the pattern and PCRE2's message and offset.
  explicit Regex(const std::string& pattern);
  // Non-overlapping matches [begin, end) from left to right, as Oniguruma's find_iter yields
  // them (after an empty match the search resumes one character further). s: valid UTF-8.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::string pattern_;
  std::shared_ptr<const Code> code_;
};

// True when this build has the general regex engine (PCRE2).
bool have_general_regex();

}  // namespace quench::text
