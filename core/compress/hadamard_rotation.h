#pragma once
// Online Hadamard rotation of a linear's input (QuaRot, Ashkboos et al. 2024, fake_quant/
// hadamard_utils.py; Quamba's rotated out_proj input): offline W′ = W·Hᵀ, online x′ = H·x, so
// W′x′ = W·Hᵀ·H·x = Wx exactly for the orthonormal H of core/ops/hadamard.h (same matrix and index
// convention in both places). Because the rotation is applied online to this layer's input only,
// it is exact for any Linear whose input width has a Hadamard matrix (2^k, 12·2^k, 20·2^k, 28·2^k):
// Mamba's out_proj (d_inner), Llama's down_proj when intermediate_size has such a form. Outliers
// spread over all channels, so a per-tensor activation scale calibrated after the rotation wastes
// far fewer levels.
// Reproduces (test HadamardTest.FloatLogitsUnchanged): the float model's logits are unchanged.
#include <ATen/ATen.h>

#include "core/nn/hooks.h"
#include "core/nn/layer.h"

namespace quench {

// W ← W·Hᵀ (Linear only; throws naming the layer for another kind or an unsupported width).
void rotate_layer_weight(Layer& layer);
// x ↦ H·x along the last dimension (the layer's input, [..., in]).
Transform hadamard_input_transform();

}  // namespace quench
