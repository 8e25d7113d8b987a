#pragma once
// What Split pre-tokenizers and Replace normalizers/decoders match: a literal string, one of
// the well-known split regexes (hand-written scanner) or any other regex (PCRE2).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/text/json_node.h"
#include "core/text/regex.h"
#include "core/text/split_scanner.h"

namespace quench::text {

class Pattern {
 public:
  static Pattern literal(std::string s);
  static Pattern regex(const std::string& pattern);  // throws on a bad pattern
  // The JSON form used by tokenizer.json: {"String": "..."} or {"Regex": "..."}.
  const std::string& source() const { return source_; }

  // Calls f(begin, end) for each non-overlapping match, left to right. s: valid UTF-8.
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const;
  // s with every match replaced by content.
  std::string replace_all(std::string_view s, const std::string& content) const;

 private:
  std::string source_;
  bool is_literal_ = false;
  std::optional<SplitScheme> scheme_;
  std::shared_ptr<const Regex> regex_;
};

// The {"String": ...} / {"Regex": ...} object of Split, Replace and the Replace decoder.
Pattern load_pattern(const JsonNode& p);

}  // namespace quench::text
