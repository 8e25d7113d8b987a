#pragma once
// RepQ-ViT's scale reparameterization (Li et al., "RepQ-ViT: Scale Reparameterization for
// Post-Training Quantization of Vision Transformers", ICCV 2023; zkkli/RepQ-ViT quant_layers):
// post-LayerNorm activations have channels of very different ranges, which a per-tensor
// quantizer cannot serve. Calibrate per-channel asymmetric parameters s_c, z_c at the readers'
// bits (the range widened to contain 0, as core/ops does), take one layer-wise pair s̃ = mean(s),
// z̃ = round(mean(z)), and fold r₁ = s/s̃, r₂ = z − z̃ into the LayerNorm and the linears reading it:
// β ← β + s⊙r₂ and b ← b − W·(s⊙r₂) first, then γ, β ← γ/r₁, β/r₁ and W ← W·diag(r₁). Exact in
// float; afterwards every channel's range is s̃·[−z̃, 2^b − 1 − z̃], so the per-tensor quantizer the
// recipe asks for works as well as a per-channel one would.
// The other half of RepQ-ViT, the log√2 quantizer for post-softmax probabilities, is an
// activation type ("type": "log_sqrt2", settings.h) on ViT's :probs points.
// Reproduces (tests): float logits unchanged (RepqTest.FloatLogitsUnchanged); on mnist-vit W4A4
// with per-tensor activations, RepQ-ViT's top-1 is higher than without it
// (QuantAccuracy.RepqVitBeatsPerTensorW4A4). Paper check: DeiT-S W4A4 69.03 % ImageNet top-1.
#include <functional>
#include <string>
#include <vector>

#include "core/models/model.h"
#include "core/stats/calibrate.h"

namespace quench {

struct RepqGroup {
  std::string norm;                 // the LayerNorm's weight
  std::vector<std::string> layers;  // its readers
  int bits = 0;
  double min_r1 = 0, max_r1 = 0;    // the spread of channel scales folded away
};

// bits_of: the bits of a reader's input quantizer, 0 when its input is not quantized (a group
// none of whose readers quantize their input is left alone). Calibrates the groups' inputs on
// `batches` (one pass) and folds. Throws when the family has no LayerNorm → linear groups.
std::vector<RepqGroup> apply_repq(Model& model, const std::function<int(const Layer&)>& bits_of, const BatchSource& batches,
                                  const Progress& progress = {});

}  // namespace quench
