#pragma once
// tokenizer.json decoders: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder
// and Sequence of them, each a step on the list of token strings (decode_chain in the
// tokenizers library); the final text is the concatenation. WordPiece and CTC are refused.
#include <memory>
#include <string>
#include <vector>

#include "core/text/json_node.h"

namespace quench::text {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

std::unique_ptr<const Decoder> load_decoder(const JsonNode& n);

}  // namespace quench::text
