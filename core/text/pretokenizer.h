#pragma once
// tokenizer.json pre-tokenizers: ByteLevel, Split, Metaspace and Sequence of them; others
// (Whitespace, BertPreTokenizer, Digits, ...) are refused when loading.
//
// Pre-tokenizers stream: each piece goes to a sink as soon as it is cut, so a 10 MB text never
// becomes millions of stored strings. A piece is only valid during the sink call.
#include <functional>
#include <memory>
#include <string_view>

#include "core/text/json_node.h"

namespace quench::text {

// piece: never empty. at_origin: the piece starts at offset 0 of the original text, which
// Metaspace's prepend_scheme "first" asks about.
using PieceSink = std::function<void(std::string_view piece, bool at_origin)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // s: valid UTF-8, not empty.
  virtual void split(std::string_view s, bool at_origin, const PieceSink& sink) const = 0;
};

// n: the "pre_tokenizer" object (not null). When the last stage is ByteLevel, its pieces are
// passed on as raw bytes instead of GPT-2 characters and *raw_bytes is set: the BPE model
// maps bytes to its byte-character vocabulary itself, which saves building a second string
// per piece. Identical ids either way; the mapping is one-to-one.
std::unique_ptr<const PreTokenizer> load_pre_tokenizer(const JsonNode& n, bool* raw_bytes);

}  // namespace quench::text
