#include "core/stats/point_pattern.h"

#include "core/util/error.h"

namespace quench {

bool glob_match(const std::string& pattern, const std::string& text) {
  // Greedy with one backtrack point: the last '*' absorbs one more character on a mismatch.
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

PointPattern::PointPattern(const std::string& patterns) {
  size_t start = 0;
  while (start <= patterns.size()) {
    size_t end = patterns.find(',', start);
    if (end == std::string::npos) end = patterns.size();
    std::string p = patterns.substr(start, end - start);
    const auto b = p.find_first_not_of(" \t"), e = p.find_last_not_of(" \t");
    p = b == std::string::npos ? std::string() : p.substr(b, e - b + 1);
    if (p.empty()) throw UsageError("point pattern '" + patterns + "' has an empty entry (patterns are comma-separated globs)");
    patterns_.push_back(p);
    start = end + 1;
  }
}

bool PointPattern::matches(const std::string& point) const {
  for (const auto& p : patterns_)
    if (glob_match(p, point)) return true;
  return false;
}

std::string PointPattern::str() const {
  std::string s;
  for (const auto& p : patterns_) s += (s.empty() ? "" : ",") + p;
  return s;
}

}  // namespace quench
