#pragma once
// How a quantized layer's weight is represented exactly: the integers and scales the quantizer
// chose, kept beside the fake-quantized float weight so that exporters write those very numbers
// (and check the weight still lies on them) instead of re-deriving a grid.
#include <ATen/ATen.h>

#include <optional>

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

}  // namespace quench
