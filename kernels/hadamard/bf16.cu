// One element type per file so the kernel build parallelizes.
#include "kernels/hadamard/impl.cuh"

namespace quench::kernels::hadamard_detail {
template Status launch_hadamard<__nv_bfloat16>(const HadamardParams&, cudaStream_t);
}
