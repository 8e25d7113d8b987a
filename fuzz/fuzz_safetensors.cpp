// libFuzzer target: the safetensors header reader (core/io/safetensors.cpp) on arbitrary bytes,
// then every tensor loaded through libtorch. Like the GGUF target, each input is one in-memory
// file (memfd) opened through /proc/self/fd.
// quench::Error and nlohmann::json exceptions are orderly refusals; anything else (a c10::Error
// from libtorch included) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "core/io/safetensors.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
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
