#pragma once
// A quantized Linear executed from its integers: the 4-bit values packed eight to an int32 (the
// compressed-tensors layout the exporter writes) with float32 scales (and zeros) per group, instead
// of the fake-quantized float weight. On a GPU, few rows of half-precision activations (decoding)
// run the W4A16 kernel (core/ops/w4a16.h), reading a quarter of the bytes of a float16 weight;
// anything else dequantizes and uses a dense GEMM, the reference path that CPU tests check.
// Dequantizing gives exactly the fake-quantized weight in float32, so the outputs equal the dense
// layer's up to the GEMM's accumulation order (and, in half precision, the weight's rounding).
#include <ATen/ATen.h>

#include <string>

#include "core/nn/layer.h"

namespace quench {

class PackedInt4Linear : public LayerKernel {
 public:
  // Why `layer` cannot be packed (empty when it can): it must be a Linear whose encoding is a
  // 4-bit integer grid per tensor, per row, or in groups of a multiple of 32 inputs, without
  // act-order's column reordering, with a multiple of 32 inputs.
  static std::string unsupported(const Layer& layer);
  // Throws naming the layer when unsupported() says why, or when its weight no longer lies on the grid.
  explicit PackedInt4Linear(const Layer& layer);

  at::Tensor forward(const at::Tensor& x) const override;
  std::string describe() const override;
  int64_t parameters() const override { return n_ * k_; }
  at::Tensor dense_weight() const override;  // F32 [n, k]
  // [n, k] in dtype, each value rounded once from the float32 product (what the dense path multiplies).
  at::Tensor dequantized(at::ScalarType dtype) const;
  void to(at::Device device, at::ScalarType dtype) override;

  int64_t group() const { return group_; }
  int64_t bytes() const;  // what the packed form holds: integers, scales, zeros

 private:
  at::Tensor qweight_;  // I32 [n, k / 8]
  at::Tensor scale_;    // F32 [n, groups]
  at::Tensor zero_;     // I32 [n, groups], undefined when symmetric (stored as q + 8)
  int64_t n_ = 0, k_ = 0, group_ = 0;
};

}  // namespace quench
