#pragma once
// Hugging Face tokenizer.json, in C++: the ids the `tokenizers` library gives, without Python.
//
// Pipeline (as the library): added tokens are cut out of the raw text first; the rest is
// normalized, cut again at normalized added tokens, pre-tokenized into pieces, and each piece
// goes through the BPE model; add_special_tokens runs the post-processor. Supported: BPE models
// (byte-level: GPT-2, Llama-3, Qwen2; SentencePiece-style: Llama-2, Mistral) with the
// components listed in normalizer.h, pretokenizer.h, decoder.h and post_processor.h. Other
// models (WordPiece, Unigram, WordLevel) and components are refused when loading, naming the
// file and the type. truncation and padding are not applied: Quench tokenizes whole texts.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quench {

// Called now and then while encoding long texts; return false to cancel (encode then throws
// quench::Cancelled). done is approximate (bytes of text handled so far), total the text's size.
using EncodeProgress = std::function<bool(size_t done, size_t total)>;

class Tokenizer {
 public:
  // Throws quench::Error naming the file (and the key, merge index, ...) on anything it cannot use.
  static Tokenizer from_file(const std::string& path);
  // dir/tokenizer.json.
  static Tokenizer from_model_dir(const std::string& dir);
  // The contents of a tokenizer.json; name is what error messages call it.
  static Tokenizer from_json(std::string_view json, const std::string& name = "tokenizer.json");

  // text must be valid UTF-8 (else quench::Error with the byte offset).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens, const EncodeProgress& progress) const;
  // Ids no token has are skipped, as the tokenizers library does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // The library's get_vocab_size(with_added_tokens=True): model entries plus added tokens
  // that are not in the model.
  int64_t vocab_size() const;
  // The largest id any token has, or that the post-processor adds (an embedding needs max_id() + 1 rows).
  int32_t max_id() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;
  const std::string& source() const;  // the file it was read from (or the name given)

  struct Impl;  // opaque: defined in tokenizer.cpp

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace quench
