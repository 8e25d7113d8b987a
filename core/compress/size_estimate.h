#pragma once
// The size a recipe gives a model, computed from the resolved recipe alone (no tensors touched), so
// the GUI's recipe editor can show it live. The accounting (docs/recipes.md):
//   - a quantized weight [out, in] costs b bits per element, plus one fp16 scale per scale slot
//     (1 per tensor, 1 per output row, 1 per row and group of in), plus for asymmetric
//     quantization one zero point per slot stored packed at b bits (compressed-tensors packs
//     int32 words along the output dimension); GPTQ act-order with groups adds a g_idx of one
//     int32 per input column;
//   - everything not quantized (other layers, biases, norms, A_log, position embeddings …) at
//     16 bits, as a bf16/fp16 checkpoint stores it; buffers (BatchNorm running statistics) too;
//   - weights shared by two layers (tied embedding and LM head) count once while both are kept;
//     when one of them is quantized the checkpoint holds both copies and both count;
//   - each static activation scale (one per quantized point) is one fp16 number;
//   - an online Hadamard rotation stores nothing (the transform is computed).
// The KV cache is not part of the checkpoint; its bits per cached element are reported apart.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/compress/recipe.h"

namespace quench {

// Total storage bits of an [out, in] weight under a setting.
double quantized_weight_bits(const WeightQuant& w, int64_t out, int64_t in);

struct LayerSize {
  std::string layer;
  int64_t weights = 0;    // elements of the weight
  double bits = 0;        // storage of the weight (scales and zero points included)
  bool quantized = false;
  double bits_per_weight() const { return weights ? bits / static_cast<double>(weights) : 0.0; }
};

struct SizeEstimate {
  std::vector<LayerSize> layers;       // Model::layers() order
  int64_t bytes = 0;                   // the compressed checkpoint
  int64_t original_bytes = 0;          // the same model with everything at 16 bits
  double bits_per_weight = 16;         // over every compressible layer's weight (shared ones once)
  double quantized_bits_per_weight = 16;  // over the quantized layers only
  int64_t quantized_weights = 0;       // elements in quantized layers
  double kv_bits_per_element = 16;     // mean over the modules (16 where not quantized)
  double compression() const { return bytes ? static_cast<double>(original_bytes) / static_cast<double>(bytes) : 1.0; }
  nlohmann::json to_json() const;
};

SizeEstimate estimate_size(const Model& model, const ResolvedRecipe& plan);

}  // namespace quench
