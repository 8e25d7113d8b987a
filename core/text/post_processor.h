#pragma once
// tokenizer.json post-processors, for a single sequence: TemplateProcessing, RobertaProcessing,
// BertProcessing, ByteLevel (offsets only: no effect on ids) and Sequence. They only act when
// special tokens are asked for (add_special_tokens).
#include <cstdint>
#include <memory>
#include <vector>

#include "core/text/json_node.h"

namespace quench::text {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> process(std::vector<int32_t> ids) const = 0;
  // The largest id it adds (−1: none). The file may name any id; an embedding needs it as a row.
  virtual int32_t max_id() const { return -1; }
};

std::unique_ptr<const PostProcessor> load_post_processor(const JsonNode& n);

}  // namespace quench::text
