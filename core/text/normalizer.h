#pragma once
// tokenizer.json normalizers: NFC, NFD, Lowercase, Prepend, Replace, Strip and Sequence of
// them. Anything else (NFKC, BertNormalizer, Precompiled, ...) is refused when loading.
#include <memory>
#include <string>
#include <string_view>

#include "core/text/json_node.h"

namespace quench::text {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // s: valid UTF-8, never empty (the pipeline drops empty pieces before normalizing).
  virtual std::string normalize(std::string s) const = 0;
};

// n: the "normalizer" object (not null).
std::unique_ptr<const Normalizer> load_normalizer(const JsonNode& n);

}  // namespace quench::text
