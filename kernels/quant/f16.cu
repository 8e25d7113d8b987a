// One element type per file so the kernel build parallelizes.
#include "kernels/quant/impl.cuh"

namespace quench::kernels::quant_detail {
template Status launch_apply<__half>(const QuantApplyParams&, cudaStream_t);
template Status launch_dynamic<__half>(const QuantDynamicParams&, cudaStream_t);
}
