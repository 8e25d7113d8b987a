#pragma once
// A whole file mapped read-only-on-disk into memory (private, copy-on-write), shared by the
// safetensors and GGUF readers so tensors can view file bytes without copying them.
#include <cstdint>
#include <string>

namespace quench {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  uint8_t* data() const { return data_; }  // null for an empty file
  uint64_t size() const { return size_; }
  // Drops the mapping's resident pages (a streamed model's finished blocks); the next read faults
  // them in again from the file. Pages written through a view would lose their writes, so only a
  // model whose stored views nothing writes (Model::stream) calls this.
  void release_pages() const;

 private:
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace quench
