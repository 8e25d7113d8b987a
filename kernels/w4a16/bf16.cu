// One element type per file so the kernel build parallelizes.
#include "kernels/w4a16/impl.cuh"

namespace quench::kernels::w4a16_detail {
template Status launch_w4a16<__nv_bfloat16>(const W4A16Params&, cudaStream_t);
}
