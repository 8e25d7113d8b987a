// One (input, output) type pair per file so the kernel build parallelizes.
#include "kernels/scan/impl.cuh"

namespace quench::kernels::scan_detail {
template Status launch_scan<float, float>(const SelectiveScanParams&, cudaStream_t);
}
