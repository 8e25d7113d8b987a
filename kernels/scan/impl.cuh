#pragma once
// One thread per (batch, channel) walks time with its N states in registers. A block owns 64
// channels of one batch; per chunk of 64 steps it stages u, δ (already dequantized, biased and
// softplus'ed) and B, C in shared memory, then every thread scans the chunk from shared memory.
// Staging is latency-bound, so all of a chunk's loads are issued before any is used, as 16-byte
// vectors when the layout allows: int8 needs 4 vectors per thread per tensor, fp16 8, fp32 16 —
// the reason int8 inputs come out ahead of fp16 rather than level with them.
// (Measured: with 8 scalar loads in flight the scan took 1.30 ms at B=8, L=2048, D=5120, N=16;
// prefetching the next chunk into registers instead took 4.7 ms, so that variant was dropped.)
// The inner loop is one exp2 per (t, n) on the MUFU unit (16/clk/SM on Hopper) plus three FMAs: at
// that size ~1.3 G exp2, ~0.36 ms of MUFU time — the floor, not DRAM (~0.5 GB in fp16).
#include <algorithm>

#include <type_traits>

#include "kernels/detail/device.cuh"
#include "kernels/selective_scan.h"

namespace quench::kernels::scan_detail {

constexpr int kThreads = 64;  // channels per block: 640 blocks at D = 5120, B = 8 spread evenly over 132 SMs
constexpr int kChunk = 64;    // time steps staged per pass (40 KB of shared memory with kThreads = 64)
constexpr int kMaxN = kSelectiveScanMaxState;
static_assert(kChunk * kThreads * 2 * 4 + kChunk * kMaxN * 2 * 4 + kThreads * 4 <= 48 * 1024, "static shared memory over 48 KB");
static_assert(kChunk * kMaxN % kThreads == 0, "B/C tile must split evenly over the threads");

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
  bool vec_ud;  // u and δ rows 16-byte aligned (strides and pointers)
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

// softplus(x) = log1p(exp(x)), x above 20 (as torch); applied in its own pass after staging so the
// unrolled staging loops stay small.
__device__ __forceinline__ float softplus(float x) { return x <= 20.f ? log1pf(expf(x)) : x; }

// Element j of a 16-byte vector held as four 32-bit words (kept packed: a struct of sixteen int8
// made the compiler spread them over sixteen registers and spill).
template <typename TIn, int J>
__device__ __forceinline__ float elem(const uint4& r) {
  const unsigned w = J * sizeof(TIn) / 4 == 0 ? r.x : J * sizeof(TIn) / 4 == 1 ? r.y : J * sizeof(TIn) / 4 == 2 ? r.z : r.w;
  if constexpr (std::is_same_v<TIn, int8_t>) {
    return to_f(static_cast<int8_t>(static_cast<signed char>((w >> (8 * (J % 4))) & 0xffu)));
  } else if constexpr (std::is_same_v<TIn, float>) {
    return __uint_as_float(w);
  } else if constexpr (std::is_same_v<TIn, __half>) {
    return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> (16 * (J % 2)))));
  } else {
    return __bfloat162float(__ushort_as_bfloat16(static_cast<unsigned short>(w >> (16 * (J % 2)))));
  }
}

// Four converted elements per shared-memory store: with one float per store, the lanes of a warp
// (vectors 32 bytes apart for fp16) hit 4 banks: 8-way conflicts, 2.5 ms instead of 1.3 for fp16.
template <typename TIn, int V, int Q = 0>
__device__ __forceinline__ void store_vec(const uint4& ru, const uint4& rd, float* su_row, float* sd_row, const float* sbias, int c,
                                          const Args& a) {
  if constexpr (Q * 4 < V) {
    constexpr int J = Q * 4;
    *reinterpret_cast<float4*>(su_row + c + J) =
        make_float4(elem<TIn, J>(ru) * a.us, elem<TIn, J + 1>(ru) * a.us, elem<TIn, J + 2>(ru) * a.us, elem<TIn, J + 3>(ru) * a.us);
    const float4 bias = *reinterpret_cast<const float4*>(sbias + c + J);
    *reinterpret_cast<float4*>(sd_row + c + J) =
        make_float4(elem<TIn, J>(rd) * a.ds + bias.x, elem<TIn, J + 1>(rd) * a.ds + bias.y, elem<TIn, J + 2>(rd) * a.ds + bias.z,
                    elem<TIn, J + 3>(rd) * a.ds + bias.w);
    store_vec<TIn, V, Q + 1>(ru, rd, su_row, sd_row, sbias, c, a);
  }
}

// u and δ of a full 64-channel block, 16-byte vectors: row t of the tile is kThreads elements, so
// kVecPerRow vectors; each thread takes kPer of the chunk's tc·kVecPerRow, in batches of 8 whose
// loads all issue before the first conversion.
template <typename TIn>
__device__ __forceinline__ void stage_ud_vec(const Args& a, const TIn* u0, const TIn* d0, int64_t t0, int tc, const float* sbias,
                                             float (*su)[kThreads], float (*sd)[kThreads]) {
  constexpr int V = 16 / sizeof(TIn), kVecPerRow = kThreads / V, kPer = kChunk * kVecPerRow / kThreads;
  constexpr int kBatch = kPer < 8 ? kPer : 8;
#pragma unroll 1
  for (int b0 = 0; b0 < kPer; b0 += kBatch) {
    uint4 pu[kBatch], pd[kBatch];
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int i = threadIdx.x + (b0 + k) * kThreads, t = i / kVecPerRow, c = (i % kVecPerRow) * V;
      if (t < tc) {
        pu[k] = *reinterpret_cast<const uint4*>(u0 + (t0 + t) * a.ust + c);
        pd[k] = *reinterpret_cast<const uint4*>(d0 + (t0 + t) * a.dst + c);
      }
    }
#pragma unroll
    for (int k = 0; k < kBatch; ++k) {
      const int i = threadIdx.x + (b0 + k) * kThreads, t = i / kVecPerRow, c = (i % kVecPerRow) * V;
      if (t < tc) store_vec<TIn, V>(pu[k], pd[k], su[t], sd[t], sbias, c, a);
    }
  }
}

template <typename TIn, typename TOut>
__global__ void __launch_bounds__(kThreads) scan_kernel(Args a) {
  __shared__ __align__(16) float su[kChunk][kThreads];
  __shared__ __align__(16) float sd[kChunk][kThreads];
  __shared__ __align__(16) float sB[kChunk][kMaxN];
  __shared__ __align__(16) float sC[kChunk][kMaxN];
  __shared__ __align__(16) float sbias[kThreads];
  const int tid = threadIdx.x;
  const int64_t b = blockIdx.y;
  const int64_t dbase = static_cast<int64_t>(blockIdx.x) * kThreads;
  const int64_t d = dbase + tid;
  const bool active = d < a.dim;
  // Vector staging for int8 and fp32; fp16/bf16 stage per channel. (Measured at B=8, L=2048,
  // D=5120: vector-staged fp16 2.3 ms against 1.30 ms per channel, while int8 and fp32 gained;
  // not understood without a profiler, so fp16/bf16 keep the path that measured fastest.)
  constexpr bool kVecStaging = sizeof(TIn) == 1 || sizeof(TIn) == 4;
  const bool full_vec = kVecStaging && a.vec_ud && dbase + kThreads <= a.dim;
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
  sbias[tid] = bias;
  const TIn* u0 = static_cast<const TIn*>(a.u) + b * a.usb + dbase;
  const TIn* d0 = static_cast<const TIn*>(a.delta) + b * a.dsb + dbase;
  const TIn* Bp = static_cast<const TIn*>(a.B) + b * a.bsb;
  const TIn* Cp = static_cast<const TIn*>(a.C) + b * a.csb;
  TOut* y = static_cast<TOut*>(a.y) + (b * a.len) * a.dim + d;

  for (int64_t t0 = 0; t0 < a.len; t0 += kChunk) {
    const int tc = static_cast<int>(min(static_cast<int64_t>(kChunk), a.len - t0));
    __syncthreads();  // the previous chunk's readers are done (and sbias is written)
    if (full_vec) {
      if constexpr (kVecStaging) stage_ud_vec<TIn>(a, u0, d0, t0, tc, sbias, su, sd);
    } else if (active) {
      // Partial or unaligned blocks: each thread its own channel, 16 loads in flight.
#pragma unroll 8
      for (int t = 0; t < tc; ++t) {
        su[t][tid] = to_f(u0[(t0 + t) * a.ust + tid]) * a.us;
        sd[t][tid] = to_f(d0[(t0 + t) * a.dst + tid]) * a.ds + bias;
      }
    }
    {
      // B and C: [tc, N] tiles read by every thread; 8 elements of each per thread in flight.
      constexpr int kPer = kChunk * kMaxN / kThreads, kBatch = 8;
#pragma unroll 1
      for (int k0 = 0; k0 < kPer; k0 += kBatch) {
        TIn rb[kBatch], rc[kBatch];
#pragma unroll
        for (int k = 0; k < kBatch; ++k) {
          const int i = tid + (k0 + k) * kThreads, t = i / kMaxN, n = i % kMaxN;
          if (t < tc && n < N) {
            rb[k] = Bp[(t0 + t) * a.bst + n];
            rc[k] = Cp[(t0 + t) * a.cst + n];
          }
        }
#pragma unroll
        for (int k = 0; k < kBatch; ++k) {
          const int i = tid + (k0 + k) * kThreads, t = i / kMaxN, n = i % kMaxN;
          if (t < tc && n < N) {
            sB[t][n] = to_f(rb[k]) * a.bs;
            sC[t][n] = to_f(rc[k]) * a.cs;
          }
        }
      }
    }
    __syncthreads();
    if (!active) continue;
    if (a.softplus) {
      // Each thread its own column, which no other thread reads: no barrier needed after.
      for (int t = 0; t < tc; ++t) sd[t][tid] = softplus(sd[t][tid]);
    }
#pragma unroll 2
    for (int t = 0; t < tc; ++t) {
      const float uu = su[t][tid], dt = sd[t][tid];
      const float dtu = dt * uu;
      // Two accumulators halve the dependent FMA chain of the readout.
      float acc0 = Dd * uu, acc1 = 0.f;
#pragma unroll
      for (int n = 0; n < kMaxN; ++n) {
        if (n < N) {
          const float e = fast_exp2(dt * A2[n]);
          h[n] = fmaf(e, h[n], dtu * sB[t][n]);
          if (n % 2 == 0) acc0 = fmaf(h[n], sC[t][n], acc0);
          else acc1 = fmaf(h[n], sC[t][n], acc1);
        }
      }
      y[(t0 + t) * a.dim] = detail::from_float<TOut>(acc0 + acc1);
    }
  }
}

template <typename TIn, typename TOut>
Status launch_scan(const SelectiveScanParams& p, cudaStream_t stream) {
  if (p.batch == 0 || p.len == 0 || p.dim == 0) return Status{};
  constexpr int64_t V = 16 / sizeof(TIn);
  const bool vec_ud = p.u_batch_stride % V == 0 && p.u_len_stride % V == 0 && p.delta_batch_stride % V == 0 &&
                      p.delta_len_stride % V == 0 && detail::aligned16(p.u) && detail::aligned16(p.delta);
  Args a{p.len, p.dim, static_cast<int>(p.state), p.u, p.u_batch_stride, p.u_len_stride, p.delta,
         p.delta_batch_stride, p.delta_len_stride, p.B, p.B_batch_stride, p.B_len_stride, p.C, p.C_batch_stride,
         p.C_len_stride, p.A, p.D, p.delta_bias, p.delta_softplus, vec_ud, p.u_scale, p.delta_scale, p.B_scale, p.C_scale, p.y};
  const dim3 grid(static_cast<unsigned>(detail::ceil_div(p.dim, kThreads)), static_cast<unsigned>(p.batch));
  scan_kernel<TIn, TOut><<<grid, kThreads, 0, stream>>>(a);
  QK_CHECK_LAUNCH();
  return Status{};
}

}  // namespace quench::kernels::scan_detail
