#include "core/ops/device.h"

#include "core/util/error.h"

#if QUENCH_WITH_CUDA && QUENCH_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace quench::ops::detail {

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kDouble: return "float64";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kBool: return "bool";
    default: return at::toString(t);
  }
}

#if QUENCH_WITH_CUDA
cudaStream_t stream_for(const at::Tensor& x) {
#if QUENCH_TORCH_CUDA
  return c10::cuda::getCurrentCUDAStream(x.device().index()).stream();
#else
  // A libtorch without CUDA never hands out CUDA tensors, so no kernel runs on this path.
  (void)x;
  return nullptr;
#endif
}

void check(const kernels::Status& s, const char* op) {
  if (s.ok()) return;
  const char* kind = s.code == kernels::StatusCode::InvalidArgument ? "invalid argument"
                     : s.code == kernels::StatusCode::Unsupported   ? "unsupported"
                                                                    : "CUDA error";
  fail(op, ": ", kind, ": ", s.message, s.code == kernels::StatusCode::CudaError ? " (cudaError " : "",
       s.code == kernels::StatusCode::CudaError ? std::to_string(s.cuda_error) + ")" : std::string());
}

kernels::DType kernel_dtype(at::ScalarType t, const char* op) {
  switch (t) {
    case at::kFloat: return kernels::DType::F32;
    case at::kHalf: return kernels::DType::F16;
    case at::kBFloat16: return kernels::DType::BF16;
    case at::kChar: return kernels::DType::I8;
    case at::kByte: return kernels::DType::U8;
    case at::kInt: return kernels::DType::I32;
    default: fail(op, ": no kernel for dtype ", dtype_name(t));
  }
}
#endif

}  // namespace quench::ops::detail
