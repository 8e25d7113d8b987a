#pragma once
// SHA-256 (FIPS 180-4), incremental. Small and dependency-free: the store needs content hashes
// of models, datasets and artifacts, and nothing else in the build provides one without Qt.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace quench {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  // The digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> digest();
  std::string hex();  // 64 lowercase hex digits

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t used_ = 0;
  uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(const std::string& data);
// Streams the file; throws naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace quench
