#include "core/stats/workspace.h"

#include <functional>
#include <numeric>

namespace quench {

at::Tensor Workspace::get(size_t slot, at::IntArrayRef sizes, const at::TensorOptions& like) {
  if (slots_.size() <= slot) slots_.resize(slot + 1);
  const int64_t n = std::accumulate(sizes.begin(), sizes.end(), int64_t{1}, std::multiplies<int64_t>());
  at::Tensor& buf = slots_[slot];
  if (!buf.defined() || buf.numel() < n || buf.scalar_type() != like.dtype().toScalarType() || buf.device() != like.device())
    buf = at::empty({n}, like);
  return buf.narrow(0, 0, n).view(sizes);
}

size_t Workspace::bytes() const {
  size_t b = 0;
  for (const auto& t : slots_)
    if (t.defined()) b += static_cast<size_t>(t.numel()) * t.element_size();
  return b;
}

}  // namespace quench
