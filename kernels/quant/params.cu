// Scales and zero points from per-channel (or per-tensor) ranges, on the device so that the
// calibration path never waits for a device-to-host copy; formulas from kernels/quant_math.h.
#include <algorithm>

#include "kernels/detail/device.cuh"
#include "kernels/fake_quant.h"
#include "kernels/quant_math.h"

namespace quench::kernels {

namespace {
__global__ void __launch_bounds__(256) params_kernel(QuantParamsFromRange p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < p.n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s, z = 0.f;
    if (p.symmetric) s = qmath::scale_symmetric(p.absmax[i], p.bits, p.clip);
    else qmath::scale_zero_asymmetric(p.min[i], p.max[i], p.bits, p.clip, &s, &z);
    p.scale_out[i] = s;
    if (p.zero_out) p.zero_out[i] = static_cast<int32_t>(z);
  }
}
}  // namespace

Status quant_params_from_range(const QuantParamsFromRange& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("quant_params_from_range: bits must be in [2, 8]");
  if (p.n < 0) return invalid("quant_params_from_range: negative size");
  if (!(p.clip > 0.f)) return invalid("quant_params_from_range: clip must be > 0");
  if (p.n == 0) return Status{};
  if (!p.scale_out) return invalid("quant_params_from_range: scale_out is null");
  if (p.symmetric ? !p.absmax : (!p.min || !p.max || !p.zero_out))
    return invalid("quant_params_from_range: symmetric needs absmax; asymmetric needs min, max and zero_out");
  const int blocks = static_cast<int>(std::min<int64_t>(detail::ceil_div(p.n, 256), 4LL * detail::sm_count()));
  params_kernel<<<blocks, 256, 0, stream>>>(p);
  QK_CHECK_LAUNCH();
  return Status{};
}

}  // namespace quench::kernels
