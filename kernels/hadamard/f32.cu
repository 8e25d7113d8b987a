// One element type per file so the kernel build parallelizes.
#include "kernels/hadamard/impl.cuh"

namespace quench::kernels::hadamard_detail {
template Status launch_hadamard<float>(const HadamardParams&, cudaStream_t);
}
