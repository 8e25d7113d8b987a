// libFuzzer target: the safetensors header reader (core/io/safetensors.cpp) on arbitrary bytes,
// then every tensor loaded through libtorch. Like the GGUF target, each input is one in-memory
// file (memfd) opened through /proc/self/fd.
// quench::Error and nlohmann::json exceptions are orderly refusals; anything else (a c10::Error
// from libtorch included) is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace {

int memfd() {
  static const int fd = [] {
    const int f = ::memfd_create("quench-fuzz-safetensors", 0);
    if (f < 0) std::abort();
    return f;
  }();
  return fd;
}

void put_file(const uint8_t* data, size_t size) {
  const int fd = memfd();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  put_file(data, size);
  const std::string path = "/proc/self/fd/" + std::to_string(memfd());
  try {
    quench::SafetensorsFile f(path);
    for (const auto& [k, v] : f.metadata()) (void)(k.size() + v.size());
    for (const auto& t : f.tensors()) {
      if (f.find(t.name) != &t) std::abort();
      try {
        const at::Tensor x = f.load(t.name);
        if (x.numel() != t.numel()) std::abort();
        // Reading every element makes ASan or a fault see a view that reaches past the file.
        (void)x.to(at::kDouble).sum().item<double>();
      } catch (const quench::Error&) {
      }
    }
  } catch (const quench::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
