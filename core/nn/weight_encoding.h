#pragma once
// How a quantized layer's weight is represented exactly: the integers and scales the quantizer
// chose, kept beside the fake-quantized float weight so that exporters write those very numbers
// (and check the weight still lies on them) instead of re-deriving a grid.
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "core/ops/fake_quant.h"
#include "core/ops/ggml_grid.h"

namespace quench {

struct WeightEncoding {
  // Quench's integer grid (compressed-tensors): x̂ = scale·(q − zero) per slot of spec, on the
  // weight viewed as [out, in].
  std::optional<ops::QuantSpec> spec;
  ops::QuantParams params;
  at::Tensor g_idx;  // I32 [in]: the group of each input column when GPTQ reordered them (act-order), else undefined
  // A ggml block type's grid (GGUF).
  std::optional<ops::GgmlParams> ggml;
};

// The scale (or zero) of every element of an [out, in] weight, from a [1] / [out] / [in] /
// [out, groups] tensor (groups through g_idx when act-order reordered them).
at::Tensor encoding_per_element(const at::Tensor& p, const ops::QuantSpec& spec, const at::Tensor& g_idx, int64_t out, int64_t in);

// The integers of w2d [out, in] on e's grid, as float values on w2d's device (signed when
// symmetric, in [0, 2^bits − 1] otherwise), checked to give back w2d exactly in its own dtype:
// what exporters write and packed execution runs. Throws naming `what` and the first weight off the grid.
at::Tensor grid_integers(const at::Tensor& w2d, const WeightEncoding& e, const std::string& what);

}  // namespace quench
