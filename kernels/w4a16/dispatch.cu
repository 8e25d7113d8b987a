#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/detail/device.cuh"
#include "kernels/w4a16.h"

namespace quench::kernels {

namespace w4a16_detail {
template <typename T>
Status launch_w4a16(const W4A16Params& p, cudaStream_t stream);
}

bool w4a16_supported(int64_t m, int64_t k, int64_t group) {
  return m >= 1 && m <= kW4A16MaxRows && k > 0 && k % 32 == 0 && group > 0 && group % 32 == 0;
}

Status w4a16_gemm(const W4A16Params& p, cudaStream_t stream) {
  if (p.m < 0 || p.n < 0 || p.k < 0) return invalid("w4a16: negative size");
  if (p.m == 0 || p.n == 0) return Status{};
  if (!w4a16_supported(p.m, p.k, p.group)) return unsupported("w4a16: needs 1 ≤ m ≤ 16 and k, group multiples of 32");
  if (!p.x || !p.qweight || !p.scale || !p.y) return invalid("w4a16: null pointer");
  // 16-byte loads of x rows and weight rows.
  if (reinterpret_cast<uintptr_t>(p.x) % 16 || reinterpret_cast<uintptr_t>(p.qweight) % 16)
    return unsupported("w4a16: x and qweight must be 16-byte aligned");
  switch (p.dtype) {
    case DType::F16: return w4a16_detail::launch_w4a16<__half>(p, stream);
    case DType::BF16: return w4a16_detail::launch_w4a16<__nv_bfloat16>(p, stream);
    default: return unsupported("w4a16: x must be float16 or bfloat16");
  }
}

}  // namespace quench::kernels
