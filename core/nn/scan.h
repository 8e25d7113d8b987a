#pragma once
// Selective scans of Mamba-1 and Mamba-2 (SSD), the recurrent form. On CPU with float32 these
// are plain loops (the CPU reference the CUDA kernels are tested against); other devices and
// dtypes run a libtorch loop over time steps.
#include <ATen/ATen.h>

namespace quench {

// Mamba-1. u, delta: [B, L, D] (delta already softplus'ed); A: [D, N]; Bm, C: [B, L, N]; Dskip: [D]
// (undefined: no skip term). y[b,t,d] = Σ_n h[n]·C[b,t,n] + Dskip[d]·u[b,t,d],
// h[n] ← exp(A[d,n]·δ)·h[n] + δ·Bm[b,t,n]·u; state in float32; y in u's dtype.
// CPU: float32 loops (the reference). CUDA: the quench_kernels scan for float32/float16/bfloat16
// inputs and N ≤ 16 (else the libtorch loop below).
at::Tensor selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                          const at::Tensor& C, const at::Tensor& Dskip);

// The same recurrence as a libtorch loop over time steps, on any device: the fallback where no
// kernel applies and the baseline the kernel benchmark measures against.
at::Tensor selective_scan_torch_loop(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                                     const at::Tensor& C, const at::Tensor& Dskip);

// Quamba-style static per-tensor int8 scan: u (the conv output x), delta, Bm and C arrive as int8
// and are dequantized as q·scale; δ = q_δ·s_δ (+ delta_bias[d]), softplus'ed when delta_softplus
// (Quamba keeps the dt_proj bias apart and applies it here); then as selective_scan. A, Dskip and
// the state stay in float. Output in out_dtype (float16 or float32). CPU: a loop that reads the
// int8 inputs directly (the reference); CUDA: the kernel (N ≤ 16).
struct ScanInt8Scales {
  float u = 1.f, delta = 1.f, B = 1.f, C = 1.f;
};
at::Tensor selective_scan_int8(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                               const at::Tensor& C, const at::Tensor& Dskip, const ScanInt8Scales& scales,
                               const at::Tensor& delta_bias = at::Tensor(), bool delta_softplus = false,
                               at::ScalarType out_dtype = at::kHalf);

// Mamba-2. x: [B, L, H, P]; dt: [B, L, H] (after softplus and clamping); A: [H];
// Bm, C: [B, L, G, N] with H a multiple of G; Dskip: [H]. Returns y: [B, L, H, P] in float32.
// CPU: the recurrence as a float32 loop (the reference). Elsewhere: ssd_scan_chunked.
at::Tensor ssd_scan(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                    const at::Tensor& C, const at::Tensor& Dskip);
// The Mamba-2 paper's chunked algorithm (SSD) in batched matrix products: within each chunk of
// `chunk` tokens the scan is a masked attention-like product, across chunks a short recurrence over
// the chunk states. Any device; float32 inside. Equals the recurrence up to float rounding.
at::Tensor ssd_scan_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                            const at::Tensor& C, const at::Tensor& Dskip, int64_t chunk = 64);

// The recurrences continued from a state, for decoding token by token: state is float32
// [B, D, N] (Mamba-1) or [B, H, P, N] (Mamba-2), zeros before the first token (an undefined state
// is taken as zeros), and is replaced by the state after the last of these L tokens. Same math and
// shapes as selective_scan / ssd_scan (a libtorch loop over the L steps; L is 1 when decoding).
at::Tensor selective_scan_continue(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                                   const at::Tensor& C, const at::Tensor& Dskip, at::Tensor& state);
at::Tensor ssd_scan_continue(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A, const at::Tensor& Bm,
                             const at::Tensor& C, const at::Tensor& Dskip, at::Tensor& state);

}  // namespace quench
