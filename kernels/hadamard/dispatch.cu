#include "kernels/detail/device.cuh"
#include "kernels/hadamard.h"
#include "kernels/hadamard_k.h"

namespace quench::kernels {

namespace hadamard_detail {
template <typename T>
Status launch_hadamard(const HadamardParams& p, cudaStream_t stream);
}

int64_t hadamard_max_n() { return detail::max_smem_optin() / static_cast<int64_t>(sizeof(float)); }

Status hadamard_transform(const HadamardParams& p, cudaStream_t stream) {
  if (p.rows < 0) return invalid("hadamard: negative rows");
  if (hadamard_k::factor_k(p.n) == 0) return invalid("hadamard: n must be K·2^m with K in {1, 12, 20, 28}");
  if (p.rows > 0 && (!p.x || !p.out)) return invalid("hadamard: null pointer");
  if (p.n > hadamard_max_n()) return unsupported("hadamard: n too large for shared memory");
  switch (p.dtype) {
    case DType::F32: return hadamard_detail::launch_hadamard<float>(p, stream);
    case DType::F16: return hadamard_detail::launch_hadamard<__half>(p, stream);
    case DType::BF16: return hadamard_detail::launch_hadamard<__nv_bfloat16>(p, stream);
    default: return unsupported("hadamard: dtype must be float32, float16 or bfloat16");
  }
}

}  // namespace quench::kernels
