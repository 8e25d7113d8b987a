#pragma once
// The algorithms over an architecture's declared structure (core/models/architecture.h: its
// output head, scale groups, true-sequential stages, AWQ's no-clip layers, key/value
// projections), made concrete for one model's blocks. A family that declares none of this still
// works with every method that needs none of it (RTN, GPTQ with one stage per layer, activation
// quantization, rotations); SmoothQuant and AWQ's scale search then report that they have no
// groups for it.
#include <string>
#include <vector>

#include "core/models/architecture.h"
#include "core/models/model.h"

namespace quench {

// The output head's layer name ("lm_head", "classifier", "classifier.1"): as the family declares it, else the
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
