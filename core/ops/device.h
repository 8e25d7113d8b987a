#pragma once
// Glue between core's at::Tensor world and quench_kernels (internal to core/ops and core/nn).
// Everything CUDA-specific sits behind QUENCH_WITH_CUDA; callers also check tensor.is_cuda() at
// run time, so a build with kernels still runs on machines (and libtorch builds) without a GPU.
#include <ATen/ATen.h>

#if QUENCH_WITH_CUDA
#include <cuda_runtime_api.h>

#include "kernels/status.h"
#endif

namespace quench::ops::detail {

// True when x lives on a GPU and this build has kernels for it.
inline bool on_cuda(const at::Tensor& x) {
#if QUENCH_WITH_CUDA
  return x.is_cuda();
#else
  (void)x;
  return false;
#endif
}

#if QUENCH_WITH_CUDA
// libtorch's current stream on x's device (the caller holds a device guard for that device).
cudaStream_t stream_for(const at::Tensor& x);
// Throws quench::Error naming the op when a kernel reports a failure; never aborts.
void check(const kernels::Status& s, const char* op);
// float32 / float16 / bfloat16 / int8 / uint8 / int32; throws for anything else.
kernels::DType kernel_dtype(at::ScalarType t, const char* op);
#endif

// Names like "float16" for error messages (same text on libtorch 1.13 and 2.x).
const char* dtype_name(at::ScalarType t);

}  // namespace quench::ops::detail
