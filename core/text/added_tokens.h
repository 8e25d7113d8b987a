#pragma once
// tokenizer.json "added_tokens": strings matched in the text before anything else and never
// split (special tokens such as <|endoftext|>, chat markers). Matching follows the tokenizers
// library: leftmost-longest over all contents, then single_word / lstrip / rstrip; tokens with
// normalized=false are matched in the raw text, the others in the normalized text.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace quench::text {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedTokens {
 public:
  // Which matching set to split with: tokens that match the raw text, or the normalized text.
  enum class Set { Raw, Normalized };

  // normalize: the tokenizer's normalizer (nullptr when none), applied to the contents of
  // normalized tokens so that they match normalized text.
  void add(AddedToken t, const std::function<std::string(const std::string&)>& normalize);
  bool empty() const { return tokens_.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

  // Cuts s into consecutive segments; id is set for the segments that are added tokens.
  // Empty segments are not reported.
  void split(std::string_view s, Set set, const std::function<void(std::string_view, std::optional<int32_t>)>& f) const;

  const AddedToken* find_id(int32_t id) const;
  std::optional<int32_t> find_content(std::string_view content) const;
  // The string decode uses for an added token: its normalized form where normalization changed it.
  const std::string* decode_form(int32_t id) const;
  bool is_special_content(const std::string& content) const { return special_.count(content) != 0; }

 private:
  // Leftmost-longest without a scan over every content (a GGUF vocabulary can carry 100k+
  // added tokens): at each position, each distinct content length is looked up, longest first.
  struct Matcher {
    std::unordered_map<std::string, size_t> patterns;  // what to find → token index (the first one added)
    std::vector<size_t> lengths;                       // distinct pattern lengths, longest first
    bool first_byte[256] = {};
  };
  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<int32_t, std::string> normalized_form_;
  std::unordered_set<std::string> special_;
  Matcher raw_, normalized_;
};

}  // namespace quench::text
