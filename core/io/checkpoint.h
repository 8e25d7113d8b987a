#pragma once
// A Hugging Face checkpoint directory: config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json. Opening reads config and headers only. A compressed-tensors
// checkpoint (llm-compressor's format) is read through its decoder (core/io/ct_decode.h): the
// packed parts of each quantized Linear are hidden and its "<layer>.weight" appears, decoded.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/io/config.h"
#include "core/io/ct_decode.h"
#include "core/io/safetensors.h"

namespace quench {

class CtDecoder;

class Checkpoint {
 public:
  explicit Checkpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const Config& config() const { return config_; }
  bool has(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  // The stored tensor (its stored dtype, a view of the mapped file). Throws naming the tensor and file.
  at::Tensor load(const std::string& name) const;
  std::vector<std::string> names() const;
  // Most common floating dtype by bytes: what users call the checkpoint's dtype.
  std::string dtype() const;
  uint64_t bytes_on_disk() const { return bytes_on_disk_; }
  const std::vector<std::string>& files() const { return files_; }
  // The quantization_config's format ("pack-quantized", ...) for a compressed-tensors checkpoint, else "".
  std::string compressed_tensors_format() const;
  // The integer grid a decoded compressed-tensors weight was stored on (ct_decode.h), else nullopt.
  std::optional<StoredIntGrid> stored_int_grid(const std::string& name) const;
  // A stored tensor as written, also the parts a decoded tensor hides (weight_packed, bitmask, ...).
  bool has_stored(const std::string& name) const { return where_.count(name) != 0; }
  const TensorInfo& stored_info(const std::string& name) const;
  at::Tensor load_stored(const std::string& name) const;
  at::Tensor load_stored_bytes(const std::string& name) const;  // U8 [nbytes]: F8 weights
  // Drops every shard's resident pages (MappedFile::release_pages): a streamed model calls it after
  // each block, so that the file's pages do not pile up in its resident memory.
  void release_pages() const;

 private:
  std::string dir_;
  Config config_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<std::string> files_;
  std::map<std::string, size_t> where_;  // tensor → shard
  uint64_t bytes_on_disk_ = 0;
  std::shared_ptr<const CtDecoder> ct_;
};

}  // namespace quench
