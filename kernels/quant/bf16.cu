// One element type per file so the kernel build parallelizes.
#include "kernels/quant/impl.cuh"

namespace quench::kernels::quant_detail {
template Status launch_apply<__nv_bfloat16>(const QuantApplyParams&, cudaStream_t);
template Status launch_dynamic<__nv_bfloat16>(const QuantDynamicParams&, cudaStream_t);
}
