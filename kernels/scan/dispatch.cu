#include "kernels/detail/device.cuh"
#include "kernels/selective_scan.h"

namespace quench::kernels {

namespace scan_detail {
template <typename TIn, typename TOut>
Status launch_scan(const SelectiveScanParams& p, cudaStream_t stream);
}

Status selective_scan(const SelectiveScanParams& p, cudaStream_t stream) {
  if (p.batch < 0 || p.len < 0 || p.dim < 0) return invalid("selective_scan: negative size");
  if (p.state < 1) return invalid("selective_scan: state must be >= 1");
  if (p.state > kSelectiveScanMaxState) return unsupported("selective_scan: state larger than 16");
  if (p.batch > 65535) return unsupported("selective_scan: batch larger than 65535");
  if (p.batch * p.len * p.dim > 0 && (!p.u || !p.delta || !p.B || !p.C || !p.A || !p.y))
    return invalid("selective_scan: null pointer");
  using scan_detail::launch_scan;
  switch (p.in_dtype) {
    case DType::F32:
      if (p.out_dtype != DType::F32) return invalid("selective_scan: float32 inputs give float32 output");
      return launch_scan<float, float>(p, stream);
    case DType::F16:
      if (p.out_dtype != DType::F16) return invalid("selective_scan: float16 inputs give float16 output");
      return launch_scan<__half, __half>(p, stream);
    case DType::BF16:
      if (p.out_dtype != DType::BF16) return invalid("selective_scan: bfloat16 inputs give bfloat16 output");
      return launch_scan<__nv_bfloat16, __nv_bfloat16>(p, stream);
    case DType::I8:
      if (p.out_dtype == DType::F16) return launch_scan<int8_t, __half>(p, stream);
      if (p.out_dtype == DType::F32) return launch_scan<int8_t, float>(p, stream);
      return unsupported("selective_scan: int8 inputs give float16 or float32 output");
    default: return unsupported("selective_scan: inputs must be float32, float16, bfloat16 or int8");
  }
}

}  // namespace quench::kernels
