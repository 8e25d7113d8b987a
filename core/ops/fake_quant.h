#pragma once
// Quantize, dequantize and fake-quantize: the one place in core where the quantization formulas
// are applied (the scalar formulas themselves are kernels/quant_math.h, shared with the CUDA
// kernels so both round identically). Methods (RTN, GPTQ, AWQ, SmoothQuant, Quamba, ...) call these.
//
//   symmetric:  s = clip·max|x| / (2^(b-1) - 1),  q = clamp(round(x/s), -2^(b-1), 2^(b-1) - 1),  x̂ = s·q
//   asymmetric: [min, max] = clip·[min, max] widened to contain 0, s = (max - min) / (2^b - 1),
//               z = round(-min/s), q = clamp(round(x/s) + z, 0, 2^b - 1),  x̂ = s·(q - z)
// round = half to even (torch.round); a range of width 0 gives s = 1. 2 ≤ b ≤ 8.
//
// A tensor x of any shape is viewed as [R, C], C = x.size(-1) (the input dim of a [out, in]
// weight, the channel of an activation), R = numel / C. Scale/zero shapes by granularity:
//   Tensor [1] · Row [R] (per output channel of a weight, per token of an activation)
//   Column [C] (per activation channel) · Group [R, ceil(C/g)] (runs of g along the last dim; the
//   last run of a row may be shorter).
// CPU tensors run the loops in fake_quant.cpp (the reference); CUDA tensors run quench_kernels.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace quench::ops {

enum class Granularity { Tensor, Row, Column, Group };

struct QuantSpec {
  int bits = 8;
  bool symmetric = true;
  Granularity granularity = Granularity::Tensor;
  int64_t group_size = 0;  // Group only, ≥ 1
  double clip = 1.0;       // computed ranges are scaled by this (clip search, e.g. AWQ); > 0
};

struct QuantParams {
  at::Tensor scale;  // float32, shape as above
  at::Tensor zero;   // int32, same shape; asymmetric only (undefined when symmetric)
};

struct Quantized {
  at::Tensor q;  // int8 (symmetric) or uint8 (asymmetric), x's shape
  QuantParams params;
};

// The scale/zero shape for x under spec.
std::vector<int64_t> qparams_shape(const at::Tensor& x, const QuantSpec& spec);

// Scales (and zeros) from x's ranges.
QuantParams compute_qparams(const at::Tensor& x, const QuantSpec& spec);
// Scales from given ranges (any shape, same device): symmetric uses absmax, asymmetric min and max.
// E.g. from channel_stats: per-channel static activation scales.
QuantParams qparams_from_range(const at::Tensor& absmax, const at::Tensor& min, const at::Tensor& max, const QuantSpec& spec);

// Given params (on any device: moved to x's). x: float32 / float16 / bfloat16.
at::Tensor quantize(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec);
at::Tensor dequantize(const at::Tensor& q, const QuantParams& p, const QuantSpec& spec, at::ScalarType dtype = at::kFloat);
at::Tensor fake_quant(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec);  // x's dtype

// Computed params. Row and Group run in one pass over x on CUDA; Tensor and Column need a
// statistics pass first.
Quantized quantize(const at::Tensor& x, const QuantSpec& spec);
at::Tensor fake_quant(const at::Tensor& x, const QuantSpec& spec, QuantParams* params_out = nullptr);
// Dynamic per-token activation fake-quant of x [..., C]: one (scale, zero) per row.
at::Tensor fake_quant_per_token(const at::Tensor& x, int bits, bool symmetric = true, double clip = 1.0);

// Into caller-provided contiguous outputs on x's device (may not alias x); every element is written.
void quantize_out(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec, at::Tensor& out);
void dequantize_out(const at::Tensor& q, const QuantParams& p, const QuantSpec& spec, at::Tensor& out);
void fake_quant_out(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec, at::Tensor& out);
void fake_quant_out(const at::Tensor& x, const QuantSpec& spec, at::Tensor& out, QuantParams* params_out = nullptr);

// compressed-tensors pack-quantized: q [R, C] int8 (signed, stored as q + 2^(b-1)) or uint8
// (already unsigned) → int32 [R, ceil(C / (32/b))], 32/b values per word along C, low bits first,
// zero padding. Bits beyond b are masked off.
at::Tensor pack_int32(const at::Tensor& q, int bits);
// Inverse: int8 (signed, word bits - 2^(b-1)) or uint8 (word bits) [R, cols].
at::Tensor unpack_int32(const at::Tensor& packed, int bits, int64_t cols, bool is_signed = true);

}  // namespace quench::ops
