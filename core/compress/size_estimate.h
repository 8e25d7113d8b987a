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
//   - an online Hadamard rotation stores nothing (the transform is computed);
//   - a pruned weight stores its kept values (at 16 bits, or quantized: b bits each plus the
//     quantizer's scales as for the dense weight) and where they are: unstructured a bitmap of one
//     bit per element; N:M an index of ⌈log₂M⌉ bits per kept value, or an M-bit mask per group
//     when smaller (2:4: 2 bits × 2 kept = 4 bits per 4 values); N = M stores nothing extra;
//   - a low-rank layer stores A [out, r] and B [r, in] (at 16 bits, or each quantized with the
//     layer's weight setting, A's groups running along r and never longer than r). An energy rank
//     is read from the weight's singular values (before SmoothQuant scaling, which changes them).
//   - structured pruning (FLAP) is counted once it has run: a layer then stores its smaller weight
//     (and any bias the pruning added); before the run the estimate cannot know which channels go.
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
  int64_t weights = 0;    // elements of the original weight
  int64_t stored = 0;     // values stored for it: the weight's elements, the kept ones, or r·(out + in) factor elements
  int64_t rank = 0;       // low rank: r
  double bits = 0;        // storage of the weight (scales, zero points, masks and indices included)
  bool quantized = false;
  bool compressed = false;  // quantized, pruned or factored
  double bits_per_weight() const { return weights ? bits / static_cast<double>(weights) : 0.0; }
};

struct SizeEstimate {
  std::vector<LayerSize> layers;       // Model::layers() order
  int64_t bytes = 0;                   // the compressed checkpoint
  int64_t original_bytes = 0;          // the same model with everything at 16 bits
  double bits_per_weight = 16;         // over every compressible layer's weight (shared ones once)
  double quantized_bits_per_weight = 16;  // over the quantized layers only
  int64_t quantized_weights = 0;       // elements in quantized layers
  int64_t stored_params = 0;           // every stored value of the checkpoint (shared tensors once), after pruning and factoring
  int64_t original_params = 0;         // the same before
  double kv_bits_per_element = 16;     // mean over the modules (16 where not quantized)
  double compression() const { return bytes ? static_cast<double>(original_bytes) / static_cast<double>(bytes) : 1.0; }
  nlohmann::json to_json() const;
};

SizeEstimate estimate_size(const Model& model, const ResolvedRecipe& plan);

}  // namespace quench
