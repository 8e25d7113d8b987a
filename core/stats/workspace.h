#pragma once
// Reusable scratch tensors for the statistics' elementwise passes (deviations, their powers,
// layout and dtype conversions). Every fresh CPU tensor of a few MB costs page faults that take
// far longer than the arithmetic (measured: 0.12 s to fault in 32 MB, 3 ms to write it again), so
// a calibration keeps one Workspace for all its points; its size follows the largest tensor
// observed, not the number of batches. On CUDA the caching allocator makes it merely harmless.
#include <ATen/ATen.h>

#include <vector>

namespace quench {

// Who uses which slot, so that users nested in one call do not overwrite each other's scratch.
enum WorkspaceSlot : size_t {
  kSlotDeviation = 0,  // channel_moments: x − mean, then its cube
  kSlotPower = 1,      // channel_moments: (x − mean)², then its square
  kSlotLayout = 2,     // StreamingStats: the tensor as [tokens, channels] float when it is not one already
  kSlotBinIndex = 3,   // Histogram: each value's bin (int32)
};

class Workspace {
 public:
  // A tensor of `sizes` with dtype/device from `like`, backed by slot `slot`'s storage (grown when
  // too small). Contents are undefined; it stays valid until the same slot is asked for again.
  at::Tensor get(size_t slot, at::IntArrayRef sizes, const at::TensorOptions& like);
  size_t bytes() const;
  void clear() { slots_.clear(); }

 private:
  std::vector<at::Tensor> slots_;  // 1-D, any dtype/device
};

}  // namespace quench
