#pragma once
// safetensors reading (memory-mapped, lazy, validated) and writing (atomic).
// Format: u64 little-endian header length N | N bytes of JSON | data buffer.
#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace quench {

enum class StDtype { BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2, Other };

struct TensorInfo {
  std::string name;
  StDtype dtype = StDtype::Other;
  std::string dtype_name;        // as written in the header
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;   // relative to the data buffer
  int64_t numel() const;
};

class MappedFile;

// One .safetensors file. Opening reads and validates only the header; tensor data stays
// in the page cache until a tensor is touched.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;
  bool contains(const std::string& name) const { return find(name) != nullptr; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A tensor viewing the mapped bytes (copied only when misaligned). It keeps the mapping alive.
  // Throws for dtypes libtorch cannot hold (unsigned > 8 bits, F8).
  at::Tensor load(const std::string& name) const;
  // The stored bytes of any dtype (F8 included) as U8 [nbytes], viewing the mapping.
  at::Tensor load_bytes(const std::string& name) const;
  void release_pages() const;  // see MappedFile::release_pages

 private:
  std::string path_;
  std::shared_ptr<MappedFile> map_;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

const char* dtype_name(StDtype d);
int64_t dtype_size(StDtype d);
StDtype dtype_from_name(const std::string& s);  // Other when unknown
at::ScalarType to_scalar_type(StDtype d, const std::string& context);
StDtype from_scalar_type(at::ScalarType t);

// Writes tensors (any device, contiguous or not) to path atomically: a temporary file in the
// same directory, fsync, rename. An existing file is never left half-written. stored_as: tensors
// whose bytes are written under another dtype of the same element size (F8_E4M3 bytes held in a
// U8 tensor: Debian's libtorch 1.13 has no float8 type).
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {}, const std::map<std::string, StDtype>& stored_as = {});

// Reads every tensor of a file into memory (for small files: fixtures, inputs).
std::map<std::string, at::Tensor> load_all_safetensors(const std::string& path);

}  // namespace quench
