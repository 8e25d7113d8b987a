#pragma once
// Quantize / dequantize / fake-quantize a contiguous [rows, cols] tensor with per-tensor,
// per-row, per-column or per-group scales (formulas: kernels/quant_math.h), and pack/unpack
// b-bit integers into int32 words (compressed-tensors pack-quantized layout).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels {

enum class QuantOp : int {
  Fake = 0,        // out (same float dtype as in) = dequantize(quantize(in))
  Quantize = 1,    // out: I8 holding q (symmetric) or U8 holding q (asymmetric)
  Dequantize = 2,  // in: I8 / U8 q; out: F32 / F16 / BF16
  ParamsOnly = 3,  // quant_dynamic only: write scale/zero, no tensor output
};

// Scales given. Which scale element x[r, c] uses: scale[r·scale_row_stride + c / group]; so
// per-tensor is (group = cols, stride 0), per-row (group = cols, stride 1), per-column (group = 1,
// stride 0), per-group g (group = g, stride ceil(cols / g)). zero: same indexing, null when symmetric.
struct QuantApplyParams {
  QuantOp op = QuantOp::Fake;
  const void* in = nullptr;
  DType in_dtype = DType::F32;
  void* out = nullptr;
  DType out_dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const float* scale = nullptr;
  const int32_t* zero = nullptr;
  int64_t group = 1, scale_row_stride = 0;
  int bits = 8;  // 2..8
};
Status quant_apply(const QuantApplyParams& p, cudaStream_t stream);

// Scales computed from the data, one (scale, zero) per run of `group` channels within a row
// (group = cols: per row, e.g. dynamic per-token activations or per-output-channel weights).
// One read of the input: each run is reduced and then rewritten while it is still in cache.
struct QuantDynamicParams {
  QuantOp op = QuantOp::Fake;  // Fake, Quantize or ParamsOnly
  const void* in = nullptr;
  DType in_dtype = DType::F32;
  void* out = nullptr;  // Fake: in_dtype; Quantize: I8 / U8; ParamsOnly: null
  DType out_dtype = DType::F32;
  int64_t rows = 0, cols = 0, group = 0;
  int bits = 8;
  bool symmetric = true;
  float clip = 1.f;
  float* scale_out = nullptr;    // [rows, ceil(cols / group)], may be null unless ParamsOnly
  int32_t* zero_out = nullptr;   // same shape, asymmetric only, may be null unless ParamsOnly
};
Status quant_dynamic(const QuantDynamicParams& p, cudaStream_t stream);

// (scale, zero) from ranges, with the same formulas the dynamic kernels use: symmetric reads
// absmax (zero_out may be null), asymmetric reads min and max. n entries.
struct QuantParamsFromRange {
  const float* absmax = nullptr;
  const float* min = nullptr;
  const float* max = nullptr;
  int64_t n = 0;
  int bits = 8;
  bool symmetric = true;
  float clip = 1.f;
  float* scale_out = nullptr;
  int32_t* zero_out = nullptr;
};
Status quant_params_from_range(const QuantParamsFromRange& p, cudaStream_t stream);

// q [rows, cols] (I8: signed q, stored as q + 2^(bits-1); U8: already unsigned) → packed
// [rows, ceil(cols / (32 / bits))] int32, 32/bits values per word along cols, low bits first,
// zero padding at the end of each row.
struct PackParams {
  const void* q = nullptr;
  DType q_dtype = DType::I8;
  int32_t* packed = nullptr;
  int64_t rows = 0, cols = 0;
  int bits = 4;
};
Status pack_int32(const PackParams& p, cudaStream_t stream);

// The inverse: q (I8: word bits - 2^(bits-1); U8: word bits as they are) from packed.
struct UnpackParams {
  const int32_t* packed = nullptr;
  void* q = nullptr;
  DType q_dtype = DType::I8;
  int64_t rows = 0, cols = 0;
  int bits = 4;
};
Status unpack_int32(const UnpackParams& p, cudaStream_t stream);

}  // namespace quench::kernels
