#pragma once
// What compression methods need to know about a model family's structure, in one table keyed by
// architecture name and Hugging Face module names (relative to a block's prefix), so that the
// architecture files never special-case a method:
//   - the output head (kept out of a recipe's default),
//   - scale groups: a per-channel scale s folded into a preceding op (a norm's weight and bias, or
//     the output rows of a previous linear) and multiplied into the linears that read it — exact
//     in float. SmoothQuant uses the norm groups; AWQ uses all of them;
//   - true-sequential stages: the order in which a block's layers are quantized, layers of one
//     stage reading the same input (GPTQ/AWQ quantize a stage, then capture the next one's inputs);
//   - layers AWQ does not clip (queries and keys: a softmax follows, their output MSE misleads).
// A family missing from the table still works with every method that needs none of this (RTN,
// GPTQ with one stage per layer, activation quantization, rotations); SmoothQuant and AWQ's scale
// search then report that they have no groups for it.
#include <string>
#include <vector>

#include "core/models/model.h"

namespace quench {

struct ScaleGroup {
  enum class Prev { RmsNorm, LayerNorm, LinearRows };
  Prev prev_kind = Prev::RmsNorm;
  std::string prev;                 // "input_layernorm" (norm: its .weight, and .bias for LayerNorm) or a layer ("self_attn.v_proj")
  std::vector<std::string> layers;  // readers, relative to the block ("self_attn.q_proj", ...)
  bool smoothquant = false;         // also a SmoothQuant pair (norm → readers)
};

struct FamilyInfo {
  std::vector<const char*> architectures;
  const char* head = "";                        // the output head layer
  std::vector<ScaleGroup> groups;               // per block
  std::vector<std::vector<std::string>> stages;  // per block; layers not listed form stages of their own, in model order
  std::vector<std::string> no_clip;             // AWQ: no clip search
  std::vector<std::string> kv_projections;      // the key and value projections (Palu factors these only)
};

// nullptr when the architecture has no entry.
const FamilyInfo* family_of(const std::string& architecture);

// The output head's layer name ("lm_head", "classifier", "classifier.1"): from the table, else the
// last layer when it is named lm_head or classifier*. "" when none is known.
std::string head_layer(const Model& model);

// A scale group made concrete for block i: full names, checked against the model (a group whose
// layers or parameters are missing, or whose shapes do not chain, is left out).
struct BlockScaleGroup {
  ScaleGroup::Prev prev_kind;
  std::string prev_weight, prev_bias;  // norms: parameter names; LinearRows: the layer name in prev_weight
  std::vector<Layer*> layers;
  bool smoothquant = false;
};
std::vector<BlockScaleGroup> block_scale_groups(const Model& model, int64_t block);

// Block i's layers in stages (see above).
std::vector<std::vector<Layer*>> block_stages(const Model& model, int64_t block);

// Whether the layer is a block's key or value projection (Palu applies to these only).
bool is_kv_projection(const Model& model, const std::string& layer);
// Whether AWQ skips the clip search for this layer.
bool awq_no_clip(const Model& model, const Layer& layer);

// Folds a per-channel scale into a group: prev ← prev / s (norm weight and bias, or the rows and
// bias of the previous linear), every reader's W[:, j] ← W[:, j]·s_j. Exact in float; s: F32 [in].
void fold_scale(Model& model, const BlockScaleGroup& g, const at::Tensor& s);

}  // namespace quench
