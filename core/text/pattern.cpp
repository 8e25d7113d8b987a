#include "core/text/pattern.h"

namespace quench::text {

Pattern Pattern::literal(std::string s) {
  Pattern p;
  p.source_ = std::move(s);
  p.is_literal_ = true;
  return p;
}

Pattern Pattern::regex(const std::string& pattern) {
  Pattern p;
  p.source_ = pattern;
  p.scheme_ = known_split_scheme(pattern);
  if (!p.scheme_) p.regex_ = std::make_shared<const Regex>(pattern);
  return p;
}

void Pattern::for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& f) const {
  if (is_literal_) {
    // An empty literal matches nothing, as in the tokenizers library.
    if (source_.empty()) return;
    for (size_t i = s.find(source_); i != std::string_view::npos; i = s.find(source_, i + source_.size()))
      f(i, i + source_.size());
  } else if (scheme_) {
    for (size_t i = 0; i < s.size();) {
      const size_t e = split_match_end(*scheme_, s, i);
      f(i, e);
      i = e;
    }
  } else {
    for (const auto& [b, e] : regex_->find_all(s)) f(b, e);
  }
}

std::string Pattern::replace_all(std::string_view s, const std::string& content) const {
  std::string out;
  out.reserve(s.size());
  size_t last = 0;
  for_each_match(s, [&](size_t b, size_t e) {
    out.append(s.data() + last, b - last);
    out += content;
    last = e;
  });
  out.append(s.data() + last, s.size() - last);
  return out;
}

Pattern load_pattern(const JsonNode& p) {
  if (p.has("String")) return Pattern::literal(p.str("String"));
  if (p.has("Regex")) {
    const std::string re = p.str("Regex");
    try {
      return Pattern::regex(re);
    } catch (const std::exception& e) {
      p.fail(e.what());
    }
  }
  p.fail("expected {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace quench::text
