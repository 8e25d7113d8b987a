#pragma once
// Writes a compressed model as one GGUF file that llama.cpp (and Ollama, LM Studio) loads:
// architecture and tokenizer metadata as llama.cpp's own converter writes them, tensor names
// mapped from the Hugging Face module names (llama's q/k rows permuted the way the converter
// does), every layer quantized on a ggml grid stored as exactly those blocks, everything else in
// a float type. Nothing is re-quantized: a weight that is not on its recorded grid is an error.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/compress/recipe.h"
#include "core/io/ggml_blocks.h"
#include "core/models/model.h"

namespace quench {

struct GgufExportOptions {
  // Type of the unquantized matrices (embeddings, heads, fallbacks); 1-d tensors are always F32.
  // Empty: the source checkpoint's dtype (BF16 stays BF16, F32 → F16 as llama.cpp's converter does).
  std::string float_type;
  bool force = false;  // replace an existing file
  std::function<void(int64_t done, int64_t total)> progress;
};

// "" when `model` compressed with `plan` can be written as GGUF, else why not, naming the layer
// or setting (architecture llama.cpp lacks, Quench's integer grid, low-rank, online transforms).
std::string gguf_exportable(const Model& model, const ResolvedRecipe& plan);
// Throws unless path can be written (absent, or force).
void check_gguf_target(const std::string& path, bool force);

// Returns what the user should know about the file (a context limited to a sliding window).
std::vector<std::string> export_gguf(const Model& model, const std::string& path, const GgufExportOptions& options = {});

}  // namespace quench
