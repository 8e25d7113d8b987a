#pragma once
// One thread per (batch, channel) walks time with its N states in registers. A block owns 64
// channels of one batch and moves through time in chunks of 32 steps: the chunk's u, δ (already
// dequantized, biased and softplus'ed) and B, C sit in shared memory while the next chunk's raw
// values are already on their way into registers (issued before the chunk is scanned, used after),
// so DRAM latency hides behind the scan instead of stalling it. (Staging without the prefetch was
// measured at 1.30 ms for B=8, L=2048, D=5120, N=16: the loads, not the math, set the time.)
// The inner loop is one exp2 per (t, n) on the MUFU unit (16/clk/SM on Hopper) plus three FMAs: at
// that size ~1.3 G exp2, ~0.36 ms of MUFU time — the bound, not DRAM (~0.5 GB in fp16).
#include <algorithm>

#include <type_traits>

#include "kernels/detail/device.cuh"
#include "kernels/selective_scan.h"

namespace quench::kernels::scan_detail {

constexpr int kThreads = 64;  // channels per block: 640 blocks at D = 5120, B = 8 spread evenly over 132 SMs
constexpr int kChunk = 32;    // time steps per chunk: the prefetch holds 2·32 + 2·8 raw values per thread
constexpr int kMaxN = kSelectiveScanMaxState;
constexpr int kBCPerThread = kChunk * kMaxN / kThreads;
static_assert(kChunk * kMaxN % kThreads == 0, "B/C chunk must split evenly over the threads");

struct Args {
  int64_t len, dim;
  int state;
  const void* u;
  int64_t usb, ust;
  const void* delta;
  int64_t dsb, dst;
  const void* B;
  int64_t bsb, bst;
  const void* C;
  int64_t csb, cst;
  const float* A;
  const float* D;
  const float* delta_bias;
  bool softplus;
  float us, ds, bs, cs;
  void* y;
};

// int8 → float without the conversion unit (which shares its throughput with MUFU.EX2 on
// Hopper): add q to the mantissa of 1.5·2^23 and subtract it back, both exact.
template <typename T>
__device__ __forceinline__ float to_f(T v) {
  if constexpr (std::is_same_v<T, int8_t>) {
    return __int_as_float(0x4B400000 + static_cast<int>(v)) - 12582912.f;
  } else {
    return detail::to_float(v);
  }
}

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// One chunk's raw inputs for this thread: its own channel's u and δ for each step, and a slice of
// the chunk's B and C (element i = tid + k·kThreads of the [kChunk, kMaxN] tile).
template <typename TIn>
struct Prefetch {
  TIn u[kChunk], d[kChunk], b[kBCPerThread], c[kBCPerThread];
};

template <typename TIn>
__device__ __forceinline__ void prefetch(Prefetch<TIn>& pf, const Args& a, const TIn* u, const TIn* dl, const TIn* Bp, const TIn* Cp,
                                         int64_t t0, int tc, bool active) {
#pragma unroll
  for (int t = 0; t < kChunk; ++t) {
    if (active && t < tc) {
      pf.u[t] = u[(t0 + t) * a.ust];
      pf.d[t] = dl[(t0 + t) * a.dst];
    }
  }
#pragma unroll
  for (int k = 0; k < kBCPerThread; ++k) {
    const int i = threadIdx.x + k * kThreads, t = i / kMaxN, n = i % kMaxN;
    if (t < tc && n < a.state) {
      pf.b[k] = Bp[(t0 + t) * a.bst + n];
      pf.c[k] = Cp[(t0 + t) * a.cst + n];
    }
  }
}

template <typename TIn, typename TOut>
__global__ void __launch_bounds__(kThreads) scan_kernel(Args a) {
  __shared__ float su[kChunk][kThreads], sd[kChunk][kThreads];
  __shared__ __align__(16) float sB[kChunk][kMaxN];
  __shared__ __align__(16) float sC[kChunk][kMaxN];
  const int tid = threadIdx.x;
  const int64_t b = blockIdx.y;
  const int64_t d = static_cast<int64_t>(blockIdx.x) * kThreads + tid;
  const bool active = d < a.dim;
  const int N = a.state;
  constexpr float kLog2e = 1.4426950408889634f;

  float A2[kMaxN], h[kMaxN];
#pragma unroll
  for (int n = 0; n < kMaxN; ++n) {
    A2[n] = active && n < N ? a.A[d * N + n] * kLog2e : 0.f;
    h[n] = 0.f;
  }
  const float Dd = active && a.D ? a.D[d] : 0.f;
  const float bias = active && a.delta_bias ? a.delta_bias[d] : 0.f;
  const TIn* u = static_cast<const TIn*>(a.u) + b * a.usb + (active ? d : 0);
  const TIn* dl = static_cast<const TIn*>(a.delta) + b * a.dsb + (active ? d : 0);
  const TIn* Bp = static_cast<const TIn*>(a.B) + b * a.bsb;
  const TIn* Cp = static_cast<const TIn*>(a.C) + b * a.csb;
  TOut* y = static_cast<TOut*>(a.y) + (b * a.len) * a.dim + d;

  Prefetch<TIn> pf;
  prefetch(pf, a, u, dl, Bp, Cp, 0, static_cast<int>(min(static_cast<int64_t>(kChunk), a.len)), active);
  for (int64_t t0 = 0; t0 < a.len; t0 += kChunk) {
    const int tc = static_cast<int>(min(static_cast<int64_t>(kChunk), a.len - t0));
    __syncthreads();  // the previous chunk's readers are done
#pragma unroll
    for (int t = 0; t < kChunk; ++t) {
      if (active && t < tc) {
        su[t][tid] = to_f(pf.u[t]) * a.us;
        float dt = to_f(pf.d[t]) * a.ds + bias;
        if (a.softplus) dt = dt <= 20.f ? log1pf(expf(dt)) : dt;
        sd[t][tid] = dt;
      }
    }
#pragma unroll
    for (int k = 0; k < kBCPerThread; ++k) {
      const int i = tid + k * kThreads, t = i / kMaxN, n = i % kMaxN;
      if (t < tc && n < N) {
        sB[t][n] = to_f(pf.b[k]) * a.bs;
        sC[t][n] = to_f(pf.c[k]) * a.cs;
      }
    }
    __syncthreads();
    const int64_t next = t0 + kChunk;
    if (next < a.len) prefetch(pf, a, u, dl, Bp, Cp, next, static_cast<int>(min(static_cast<int64_t>(kChunk), a.len - next)), active);
    if (!active) continue;
#pragma unroll 2
    for (int t = 0; t < tc; ++t) {
      const float uu = su[t][tid], dt = sd[t][tid];
      const float dtu = dt * uu;
      float acc = Dd * uu;
#pragma unroll
      for (int n = 0; n < kMaxN; ++n) {
        if (n < N) {
          const float e = fast_exp2(dt * A2[n]);
          h[n] = fmaf(e, h[n], dtu * sB[t][n]);
          acc = fmaf(h[n], sC[t][n], acc);
        }
      }
      y[(t0 + t) * a.dim] = detail::from_float<TOut>(acc);
    }
  }
}

template <typename TIn, typename TOut>
Status launch_scan(const SelectiveScanParams& p, cudaStream_t stream) {
  if (p.batch == 0 || p.len == 0 || p.dim == 0) return Status{};
  Args a{p.len, p.dim, static_cast<int>(p.state), p.u, p.u_batch_stride, p.u_len_stride, p.delta,
         p.delta_batch_stride, p.delta_len_stride, p.B, p.B_batch_stride, p.B_len_stride, p.C, p.C_batch_stride,
         p.C_len_stride, p.A, p.D, p.delta_bias, p.delta_softplus, p.u_scale, p.delta_scale, p.B_scale, p.C_scale, p.y};
  const dim3 grid(static_cast<unsigned>(detail::ceil_div(p.dim, kThreads)), static_cast<unsigned>(p.batch));
  scan_kernel<TIn, TOut><<<grid, kThreads, 0, stream>>>(a);
  QK_CHECK_LAUNCH();
  return Status{};
}

}  // namespace quench::kernels::scan_detail
