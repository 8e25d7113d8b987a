#include "core/text/added_tokens.h"

#include <algorithm>

#include "core/text/unicode.h"

namespace quench::text {

namespace {
// The code point that ends at byte `end` (exclusive) of valid UTF-8.
uint32_t char_before(std::string_view s, size_t end, size_t* start) {
  size_t k = end - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  size_t len = 0;
  *start = k;
  return decode_utf8(s.data() + k, &len);
}
}  // namespace

void AddedTokens::add(AddedToken t, const std::function<std::string(const std::string&)>& normalize) {
  // The library keeps the first entry for a content and skips empty contents.
  if (t.content.empty() || by_content_.count(t.content)) return;
  const size_t index = tokens_.size();
  std::string pattern = t.content;
  Matcher* m = &raw_;
  if (t.normalized) {
    m = &normalized_;
    if (normalize) {
      pattern = normalize(t.content);
      if (pattern != t.content) normalized_form_[t.id] = pattern;
    }
  }
  if (t.special) special_.insert(t.content);
  by_content_[t.content] = index;
  by_id_[t.id] = index;
  if (!pattern.empty()) {
    m->patterns.emplace(pattern, index);
    const auto at = std::lower_bound(m->lengths.begin(), m->lengths.end(), pattern.size(), std::greater<size_t>());
    if (at == m->lengths.end() || *at != pattern.size()) m->lengths.insert(at, pattern.size());
    m->first_byte[static_cast<unsigned char>(pattern[0])] = true;
  }
  tokens_.push_back(std::move(t));
}

const AddedToken* AddedTokens::find_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedTokens::find_content(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const std::string* AddedTokens::decode_form(int32_t id) const {
  auto n = normalized_form_.find(id);
  if (n != normalized_form_.end()) return &n->second;
  const AddedToken* t = find_id(id);
  return t ? &t->content : nullptr;
}

void AddedTokens::split(std::string_view s, Set set, const std::function<void(std::string_view, std::optional<int32_t>)>& f) const {
  const Matcher& m = set == Set::Raw ? raw_ : normalized_;
  auto emit = [&](size_t b, size_t e, std::optional<int32_t> id) {
    if (e > b) f(s.substr(b, e - b), id);
  };
  if (m.patterns.empty()) {
    emit(0, s.size(), std::nullopt);
    return;
  }
  size_t done = 0;  // end of the last emitted segment
  size_t i = 0;
  while (i < s.size()) {
    if (!m.first_byte[static_cast<unsigned char>(s[i])]) {
      ++i;
      continue;
    }
    // Leftmost-longest: the longest content that starts here.
    const std::pair<const std::string, size_t>* hit = nullptr;
    for (const size_t len : m.lengths) {
      if (len > s.size() - i) continue;
      const auto it = m.patterns.find(std::string(s.substr(i, len)));
      if (it != m.patterns.end()) {
        hit = &*it;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->first.size();
    i = stop;  // matching resumes after this match even when it is discarded below
    const AddedToken& t = tokens_[hit->second];
    if (t.single_word) {
      size_t k = 0;
      const bool word_before = start > 0 && is_word(char_before(s, start, &k));
      size_t len = 0;
      const bool word_after = stop < s.size() && is_word(decode_utf8(s.data() + stop, &len));
      if (word_before || word_after) continue;
    }
    if (t.lstrip) {
      size_t b = start;
      while (b > 0) {
        size_t k = 0;
        if (!is_space(char_before(s, b, &k))) break;
        b = k;
      }
      start = std::max(b, done);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t len = 0;
        if (!is_space(decode_utf8(s.data() + stop, &len))) break;
        stop += len;
      }
      i = stop;
    }
    emit(done, start, std::nullopt);
    f(s.substr(start, stop - start), t.id);
    done = stop;
  }
  emit(done, s.size(), std::nullopt);
}

}  // namespace quench::text
