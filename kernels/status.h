#pragma once
// What every kernel entry point returns. The kernels never throw and never abort: a bad argument
// or a CUDA failure comes back as a Status, and the core wrappers turn it into quench::Error.
// Torch-free and CUDA-header-free, so core code can include it without the CUDA toolkit.

namespace quench::kernels {

enum class StatusCode : int {
  Ok = 0,
  InvalidArgument = 1,  // a size, pointer or option the kernel cannot take (message names it)
  Unsupported = 2,      // a valid request this build has no kernel for (caller may fall back)
  CudaError = 3,        // a CUDA runtime call or a launch failed (cuda_error holds the cudaError_t)
};

struct Status {
  StatusCode code = StatusCode::Ok;
  int cuda_error = 0;         // cudaError_t value when code == CudaError
  const char* message = "";   // static text: the failed check, or cudaGetErrorString
  bool ok() const { return code == StatusCode::Ok; }
};

inline Status invalid(const char* what) { return Status{StatusCode::InvalidArgument, 0, what}; }
inline Status unsupported(const char* what) { return Status{StatusCode::Unsupported, 0, what}; }

// Element types the kernels read and write; the wrappers map at::ScalarType onto these.
enum class DType : int { F32 = 0, F16 = 1, BF16 = 2, I8 = 3, U8 = 4, I32 = 5 };

}  // namespace quench::kernels
