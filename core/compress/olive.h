#pragma once
// OliVe (Guo et al., "OliVe: Accelerating Large Language Models via Hardware-friendly
// Outlier-Victim Pair Quantization", ISCA 2023; clevercool/ANT-Quantization
// olive_quantization/antquant/quant_modules.py): 4-bit weights where a rare outlier borrows its
// neighbour's 4 bits. Elements are paired (2k, 2k+1) in memory order; an element whose scaled value
// lies beyond the normal range (|v| > 32 units) is stored on the "abfloat" outlier grid
// (±{48, 64, 96, 128, 192, 256, 384}: exponent 5–8, one mantissa bit) and its partner, the victim,
// becomes 0. When both are outliers the even one is kept.
// Normal values lie on a signed 4-bit grid, either int (±{0, 4, 8, …, 28}) or flint
// (±{0, 2, 4, 6, 8, 12, 16, 32}); "auto" takes the one with the lower weight MSE per tensor (ANT's
// adaptive type). The scale α (α ↦ the normal grid's maximum) is searched per output channel (or
// per tensor) over 88 ratios 0.50, 0.52, …, 2.24 of max(|μ ± 3σ|), keeping the lowest weight MSE.
// Storage: exactly 4 bits per weight plus an fp16 α per scale: a normal value is sign + 3-bit
// magnitude index, an outlier is sign + 3-bit abfloat index, and the victim holds the code 1000
// (the normal grid's unused −0), which tells the decoder that its partner is an outlier.
// Reproduces (tests): encode → decode rebuilds the quantized weight exactly, no pair holds two
// non-zero outliers (OliveTest.PairEncodingStoresWhatItClaims); on the hf-tiny fixtures, whose
// weights have planted ×8 input channels, OliVe W4 loses less than 4-bit per-tensor RTN
// (OliveTest.BeatsPerTensorRtnOnPlantedOutliers).
#include <ATen/ATen.h>

#include "core/compress/settings.h"

namespace quench {

struct OliveInfo {
  bool flint = false;          // the normal grid chosen
  double outlier_fraction = 0;  // share of weights stored on the abfloat grid
  double victim_fraction = 0;   // share of weights zeroed as victims of an outlier
  double mean_clip = 1;         // α / max(|μ ± 3σ|), mean over scales
  at::Tensor codes;             // U8 [out, in], values 0..15: the 4-bit codes as stored
  at::Tensor scale;             // F32 [out] (channel) or [1] (tensor): one unit of the grids, α / normal maximum
};

// w2d: F32 [out, in]; setting: type "olive". Returns the dequantized weight.
at::Tensor olive_quantize(const at::Tensor& w2d, const WeightQuant& setting, OliveInfo* info = nullptr);

// The weight that `codes` and `scale` describe (decode of the pair encoding), F32 [out, in].
at::Tensor olive_decode(const at::Tensor& codes, const at::Tensor& scale, bool flint);

}  // namespace quench
