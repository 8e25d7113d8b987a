#pragma once
// Quantization on exactly the grids ggml's block types store, so that what Quench evaluates is
// bit for bit what a GGUF file holds and llama.cpp dequantizes (core/io/ggml_blocks.h has the
// block layouts). Every type is, per slot (a block, or a K-quant's sub-block), x̂ = scale·q + offset
// with an integer q in [qmin, qmax]:
//   Q8_0  slot 32   q −128..127  scale = d (fp16)                 offset 0
//   Q4_0  slot 32   q −8..7      scale = d (fp16)                 offset 0
//   Q5_0  slot 32   q −16..15    scale = d (fp16)                 offset 0
//   Q4_1  slot 32   q 0..15      scale = d (fp16)                 offset = m (fp16)
//   Q5_1  slot 32   q 0..31      scale = d (fp16)                 offset = m (fp16)
//   Q4_K  slot 32   q 0..15      scale = d·sc (d fp16 per 256, sc 1..63)  offset = −dmin·mn (dmin fp16, mn 0..63)
//   Q6_K  slot 16   q −32..31    scale = d·sc (d fp16 per 256, sc 1..127) offset 0
//   MXFP4 slot 32   q ∈ {0, ±1, ±2, ±3, ±4, ±6, ±8, ±12} (E2M1 doubled)  scale = 2^(e−128)  offset 0
//   NVFP4 slot 16   q as MXFP4       scale = s/(2G): s an E4M3 value per 16, G one F32 per tensor
//                   (blocks of 64 in GGUF; G is written as the F32 [1] tensor "<name>.scale" = 1/G)
//   F16 / BF16      the value rounded to the type (no slots)
// The ranges follow Quench's conventions (core/ops/fake_quant.h): symmetric types use
// scale = absmax/qmax, asymmetric ones min..max widened to contain 0 (Q4_K, whose mins are
// unsigned) or not (Q4_1/Q5_1, whose m is a signed float); a range of width 0 gives scale 1.
// The two-level K-quant scales follow llama.cpp's layout: a super-block's d (and dmin) is the
// largest sub-block scale (min) over the 6-/8-bit code range, sub-block codes rounded to nearest.
// NVFP4 follows compressed-tensors' two-level rule: G = 448·6 / amax(tensor), s = E4M3(amax(slot)/6·G),
// except that G is rounded down to a power of two, so that s/G, the GGUF form's 1/G and every
// product are exact and both files hold the evaluated weight bit for bit.
// All torch ops: CPU and CUDA alike.
#include <ATen/ATen.h>

#include "core/io/ggml_blocks.h"

namespace quench::ops {

struct GgmlGridInfo {
  int64_t slot;   // values per scale slot along a row
  int64_t unit;   // values whose parameters are fitted together (the block or super-block)
  int qmin, qmax;
};
GgmlGridInfo ggml_grid_info(GgmlType t);  // throws for F32/F16/BF16
bool ggml_is_float(GgmlType t);           // F32, F16, BF16

// The parameters of a weight [R, C] (C a multiple of unit) on a grid; F32 [R, C/slot] each.
struct GgmlParams {
  GgmlType type = GgmlType::Q8_0;
  at::Tensor scale, offset;
  at::Tensor d, dmin;  // K-quants: F32 [R, C/256] (fp16 values); other types: d = scale, dmin = offset
  at::Tensor sc, mn;   // K-quants: I32 [R, C/slot] sub-block codes
  at::Tensor global;   // NVFP4: F32 [1], G (then d = s/2, the E4M3 scale as ggml's block stores it)
  int64_t cols() const { return scale.size(1) * ggml_grid_info(type).slot; }
};

// Fits parameters on w [R, C]. clip: one ratio for all, or F32 [R, C/unit] per unit (clip search).
// global: NVFP4's G when w is part of a tensor (GPTQ fits a block at a time; nvfp4_global of the
// whole weight), else it is computed from w.
GgmlParams ggml_fit(const at::Tensor& w, GgmlType t, const at::Tensor& clip = {}, const at::Tensor& global = {});
// NVFP4's per-tensor G of a whole weight, F32 [1].
at::Tensor nvfp4_global(const at::Tensor& w);
// The integer q (I32, w's shape) and the fake-quantized weight (F32) under p (p may cover any
// column range starting at a unit: w's columns must equal p.cols()).
at::Tensor ggml_codes(const at::Tensor& w, const GgmlParams& p);
at::Tensor ggml_dequant(const at::Tensor& q, const GgmlParams& p);
at::Tensor ggml_fake_quant(const at::Tensor& w, const GgmlParams& p);
// Fit and fake-quantize in one; F16/BF16 round the values. params_out receives the fit (quantized types).
at::Tensor ggml_fake_quant(const at::Tensor& w, GgmlType t, GgmlParams* params_out = nullptr);

// Column j (0-based within p's columns) of a weight, w_col [R, 1], fake-quantized with its slot's parameters.
at::Tensor ggml_fake_quant_column(const at::Tensor& w_col, const GgmlParams& p, int64_t j);

// Concatenates parameters fitted on consecutive column ranges (GPTQ fits one unit at a time).
GgmlParams ggml_cat(const std::vector<GgmlParams>& parts);
// The blocks for core/io's encoder; throws naming `tensor` unless w is exactly on p's grid.
GgmlBlocks ggml_blocks(const at::Tensor& w, const GgmlParams& p, const std::string& tensor);

}  // namespace quench::ops
