// libFuzzer target: opening a GGUF file as a model (core/export/gguf_import.cpp) — config.json
// rebuilt from the metadata, tensors renamed and put back in transformers' layouts, quantized
// blocks dequantized, tokenizer.json rebuilt from tokenizer.ggml.* — then the model built and
// run, as `quench-cli eval model.gguf` does. The tensor-by-tensor reader of the export check
// (for_each_gguf_tensor) reads the same input.
// quench::Error is the orderly refusal; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "core/export/gguf_import.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "fuzz/memfd_input.h"
#include "fuzz/model_dir.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = quench::fuzz::input_as_file(data, size);
  try {
    quench::for_each_gguf_tensor(path, [](const std::string&, const at::Tensor& t) { (void)t.to(at::kDouble).sum().item<double>(); });
  } catch (const quench::Error&) {
  }
  const fs::path dir = quench::fuzz::scratch_root() / "imported";
  quench::remove_tree(dir.string());
  try {
    quench::import_gguf(path, dir.string());
    auto model = quench::load_model(dir.string());
    quench::fuzz::run_model(*model, false);
  } catch (const quench::Error&) {
  }
  return 0;
}
