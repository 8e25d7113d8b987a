#pragma once
// Selective scans of Mamba-1 and Mamba-2 (SSD), the recurrent form. On CPU with float32 these
// are plain loops (the CPU reference the CUDA kernels are tested against); other devices and
// dtypes run a libtorch loop over time steps.
#include <ATen/ATen.h>

namespace quench {

// Mamba-1. u, delta: [B, L, D] (delta already softplus'ed); A: [D, N]; Bm, C: [B, L, N]; Dskip: [D].
// y[b,t,d] = Σ_n h[n]·C[b,t,n] + Dskip[d]·u[b,t,d], h[n] ← exp(A[d,n]·δ)·h[n] + δ·Bm[b,t,n]·u.
at::Tensor selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                          const at::Tensor& C, const at::Tensor& Dskip);

// Mamba-2. x: [B, L, H, P]; dt: [B, L, H] (after softplus and clamping); A: [H];
// Bm, C: [B, L, G, N] with H a multiple of G; Dskip: [H]. Returns y: [B, L, H, P] in float32.
at::Tensor ssd_scan(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                    const at::Tensor& C, const at::Tensor& Dskip);

}  // namespace quench
