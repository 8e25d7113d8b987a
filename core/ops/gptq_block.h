#pragma once
// One GPTQ lazy-update block on CUDA (kernels/gptq.h): the columns [i1, i1 + count) of W are
// quantized into Q, their scaled errors written to Err, as gptq_quantize's column loop does.
#include <ATen/ATen.h>

#include "core/ops/fake_quant.h"

namespace quench::ops {

// True when gptq_block can run W's blocks of `count` columns under spec: W on a GPU in a build
// with the kernels, an integer grid of Tensor, Row or Group granularity, count ≤ 128.
bool gptq_block_on_kernel(const at::Tensor& W, const QuantSpec& spec, int64_t count);

// W, Q: F32 [out, in] contiguous; U: F32 [in, in] contiguous; Err: F32 [out, count].
// Tensor / Row granularity: `given` holds the parameters (scale [1] or [out]).
// Group granularity: each group's parameters are fitted here and written to column
// (i1 + c) / group_size of scale_out [out, groups] (zero_out likewise, asymmetric only).
// loss: F64 [1] on W's device, += Σ Err².
void gptq_block(const at::Tensor& W, at::Tensor& Q, at::Tensor& Err, const at::Tensor& U, int64_t i1, int64_t count, const QuantSpec& spec,
                const QuantParams& given, at::Tensor& scale_out, at::Tensor& zero_out, at::Tensor& loss);

}  // namespace quench::ops
