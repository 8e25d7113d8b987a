// One (input, output) type pair per file so the kernel build parallelizes.
#include "kernels/scan/impl.cuh"

namespace quench::kernels::scan_detail {
template Status launch_scan<__nv_bfloat16, __nv_bfloat16>(const SelectiveScanParams&, cudaStream_t);
}
