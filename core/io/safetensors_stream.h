#pragma once
// Writes a safetensors file one tensor at a time, so that a model converted tensor by tensor (a
// GGUF file dequantized on import) never sits whole in memory. The header must precede the data,
// but its size is known only at the end: a bound is reserved before the first tensor and the
// header is written into it last, padded with spaces (which the format allows; it already pads
// to 8 bytes that way). The file appears complete or not at all (AtomicFile).
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/io/atomic_file.h"

namespace quench {

class SafetensorsStreamWriter {
 public:
  // names: every tensor that will be added (they size the reserved header; any order).
  SafetensorsStreamWriter(const std::string& path, const std::vector<std::string>& names,
                          const std::map<std::string, std::string>& metadata = {});
  // Appends one tensor (any device, contiguous or not); its bytes are written before this returns.
  void add(const std::string& name, const at::Tensor& t);
  // Writes the header and renames the file into place; throws if a named tensor was not added.
  void commit();

 private:
  std::string path_;
  AtomicFile out_;
  nlohmann::json header_;
  std::set<std::string> expected_, added_;
  uint64_t reserved_ = 0, offset_ = 0;
};

}  // namespace quench
