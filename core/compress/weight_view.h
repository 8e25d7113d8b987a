#pragma once
// A layer's weight as the quantizers see it: float32 [out, in] with Conv kernels flattened into the
// input dimension ([out, in/groups·k…], the order im2col uses, so groups run along the input
// channels' taps) and Embedding tables as [vocab, dim] (one "row" per token).
#include <ATen/ATen.h>

#include "core/nn/layer.h"

namespace quench {

inline at::Tensor weight_2d(const at::Tensor& w) { return w.to(at::kFloat).reshape({w.size(0), -1}).contiguous(); }
// Back to the layer's weight shape (dtype and device are set by Layer::set_weight).
inline at::Tensor weight_like(const at::Tensor& w2d, const at::Tensor& like) { return w2d.reshape(like.sizes()); }

}  // namespace quench
