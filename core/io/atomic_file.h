#pragma once
// A file that appears at its path complete or not at all: written to a temporary file in the
// same directory, flushed, then renamed over the target. Destroyed without commit(): removed.
#include <cstddef>
#include <cstdint>
#include <string>

namespace quench {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, size_t n);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Overwrites n bytes at offset of what was written so far (a header reserved up front).
  void write_at(uint64_t offset, const void* data, size_t n);
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

// Convenience: writes a whole string atomically.
void write_file_atomic(const std::string& path, const std::string& contents);

}  // namespace quench
