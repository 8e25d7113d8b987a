// libFuzzer target: core/io/gguf.cpp (+ ggml_blocks.cpp, mapped_file.cpp) on arbitrary bytes.
// The reader only opens paths, so each input becomes the contents of one in-memory file
// (memfd) reached through /proc/self/fd: no disk writes per execution.
// quench::Error is the reader's orderly refusal; any other exception escapes and is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/io/gguf.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"

namespace {

// A wrong-kind accessor must refuse with quench::Error, never misread the variant.
void walk(const quench::GgufValue& v, int depth) {
  const std::string ctx = "fuzz";
  try { (void)v.as_int(ctx); } catch (const quench::Error&) {}
  try { (void)v.as_float(ctx); } catch (const quench::Error&) {}
  try { (void)v.as_bool(ctx); } catch (const quench::Error&) {}
  try { (void)v.as_string(ctx).size(); } catch (const quench::Error&) {}
  try {
    const auto& a = v.as_array(ctx);
    // The reader bounds nesting; a deeper tree here would mean that bound is gone.
    if (depth > 16) std::abort();
    for (const auto& item : a.items) {
      if (item.type != a.elem) std::abort();
      walk(item, depth + 1);
    }
  } catch (const quench::Error&) {}
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
  try {
    quench::GgufFile f(path);
    (void)f.version();
    for (const auto& [key, value] : f.metadata()) {
      if (f.find_key(key) != &value) std::abort();
      walk(f.key(key), 0);
    }
    for (const auto& t : f.tensors()) {
      if (f.find(t.name) != &t || &f.tensor(t.name) != &t) std::abort();
      (void)t.numel();
      (void)quench::ggml_type_code_name(t.type_code);
      // Touch every byte the reader claims is in the file, so ASan or a fault sees any overrun.
      const uint8_t* p = f.data(t);
      unsigned sum = 0;
      for (uint64_t i = 0; i < t.nbytes; ++i) sum += p[i];
      (void)sum;
      try {
        const auto values = f.dequantize(t.name);
        if (static_cast<int64_t>(values.size()) != t.numel()) std::abort();
      } catch (const quench::Error&) {
      }
    }
  } catch (const quench::Error&) {
  }
  return 0;
}
