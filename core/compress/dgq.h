#pragma once
// DGQ (Zhang et al., "Dual Grained Quantization: Efficient Fine-Grained Quantization for LLM",
// ICLR 2024; ilur98/DGQ dgq/quant/quantizer_helper.py `searchquant`): fine asymmetric int4 groups
// whose scales are themselves integers over one int8 scale per output channel, so that the
// dequantized weight W8 = ŝ_g·(q − z_g) is an int8 matrix and A8W4 runs as a plain int8 GEMM with a
// per-token × per-channel epilogue: Y = s_a·s8·(X_int8 · W8ᵀ).
//   Phase 1: per (row, group), a clip ratio ρ = 1.02 − 0.22·(i+1)/20, i < 20, of the group's range,
//            kept where the group's output error ΔW_g H_gg ΔW_gᵀ is lowest → (s_g, z_g).
//   Phase 2: per row, s8 = ρ·max|W_row| / 127 with ρ = 1.02 − 0.82·(i+1)/80, i < 80; ŝ_g =
//            clamp(round(s_g / s8), 1, 127); q clamped so that ŝ_g·(q − z_g) stays in [−127, 127];
//            kept where the row's output error ΔW H ΔWᵀ is lowest.
// H is the layer's Hessian (2/N)·XᵀX, so both errors are the calibration outputs' squared error.
// One deviation from the reference: group ranges are widened to contain 0 (core/ops' asymmetric
// rule), so every zero point is a 4-bit integer as stored.
// Storage: b bits per weight, a b-bit zero and an 8-bit ŝ per group, an fp16 s8 per row.
// Reproduces (tests): on a layer, DGQ's output error is below per-channel RTN's
// (DgqTest.OutputErrorBelowPerChannelRtn); on sotu-llama DGQ W4A8 beats RTN W4 per channel with the
// same A8 (QuantAccuracy.DgqW4A8BeatsPerChannelRtn).
#include <ATen/ATen.h>

#include <string>

#include "core/compress/settings.h"

namespace quench {

struct DgqInfo {
  double mean_group_clip = 1;    // phase 1's ρ, mean over groups
  double mean_channel_clip = 1;  // phase 2's ρ, mean over rows
  double rel_loss = 0;           // Σ ΔW H ΔWᵀ / Σ W H Wᵀ over rows: the relative output error
  at::Tensor q;                  // U8 [out, in]: the fine integers
  at::Tensor zero;               // U8 [out, groups]
  at::Tensor group_scale;        // U8 [out, groups]: ŝ_g
  at::Tensor channel_scale;      // F32 [out]: s8
};

// w2d: F32 [out, in]; H: [in, in]. setting: method dgq, asymmetric groups. Returns the dequantized
// weight s8·ŝ_g·(q − z_g).
at::Tensor dgq_quantize(const at::Tensor& w2d, const at::Tensor& H, const WeightQuant& setting, const std::string& layer,
                        DgqInfo* info = nullptr);

}  // namespace quench
