#pragma once
// The readers under test open paths, so each fuzz input becomes the contents of one in-memory
// file (memfd) reached through /proc/self/fd: no disk writes per execution.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace quench::fuzz {

// Replaces the memfd's contents with the input and returns a path that opens it.
inline std::string input_as_file(const uint8_t* data, size_t size) {
  static const int fd = [] {
    const int f = ::memfd_create("quench-fuzz", 0);
    if (f < 0) std::abort();
    return f;
  }();
  if (::ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace quench::fuzz
