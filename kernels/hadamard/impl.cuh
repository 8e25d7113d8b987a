#pragma once
// The staged kernel: every size and dtype except fp16/bf16 rows of 2^11..2^14 elements, which take
// the register kernels of regs.cuh (93-99% of copy bandwidth there, against 43-68% here).
// One block transforms RPB rows staged in shared memory as float32:
//   A. registers: each group of L lanes loads a run of M1 = min(2^m, 256) contiguous elements
//      (E = 16 per lane for full runs, 16-byte loads), butterflies the E in-thread bits, then the
//      log2(L) lane bits with shuffles, and parks the run in shared memory;
//   B. shared memory: the remaining bits of 2^m, up to four at a time (16 values in registers per
//      work item, stride ≥ 256 floats so consecutive threads hit consecutive banks);
//   K. shared memory: y[a] = Σ H_K[a][a'] x[a'] for every b (adds only, signs folded at compile time);
//   C. scale, convert, 16-byte stores.
// Bytes: one read and one write of the tensor. For fp16 the shared-memory/shuffle datapath is the
// other limit: per element 1 store (A) + 2 (B) + 1 load (C) + 4 shuffles (A) = 8/32 wavefronts,
// ~70 µs for 16384×4096 on an H100, under the ~90 µs DRAM time only if no access conflicts.
// Hence the swizzle: float j lives at sw(j) = j ^ (((j >> 5) & 3) << 2), which keeps float4s whole
// and runs of 32 consecutive floats in distinct banks, and spreads the 64-byte-strided float4
// stores of stage A and loads of stage C over all banks (plain indexing made them 4-way conflicts).
#include <algorithm>

#include "kernels/detail/device.cuh"
#include "kernels/hadamard/regs.cuh"
#include "kernels/hadamard.h"
#include "kernels/hadamard_k.h"

namespace quench::kernels::hadamard_detail {

constexpr int kThreads = 256;
constexpr int kRun = 256;  // M1 cap: 16 elements × 16 lanes (or 8 × 32 for shorter E)

__device__ __forceinline__ int sw(int j) { return j ^ (((j >> 5) & 3) << 2); }

struct Args {
  const void* x;
  void* out;
  int64_t rows;
  int n, m, rpb;
  float scale;
  bool vec;  // rows start 16-byte aligned (n·sizeof(T) % 16 == 0 and aligned pointers)
};

template <int E>
__device__ __forceinline__ void butterfly_regs(float (&v)[E]) {
#pragma unroll
  for (int h = 1; h < E; h <<= 1)
#pragma unroll
    for (int i = 0; i < E; ++i)
      if (!(i & h)) {
        const float a = v[i], b = v[i + h];
        v[i] = a + b;
        v[i + h] = a - b;
      }
}

template <typename T, int E>
__device__ __forceinline__ void load_run(const T* p, bool vec, float (&v)[E]) {
  if constexpr (E >= 8) {
    if (vec) {
      detail::load_floats<T, E>(p, v);
      return;
    }
  }
#pragma unroll
  for (int i = 0; i < E; ++i) v[i] = detail::to_float(p[i]);
}

template <int E>
__device__ __forceinline__ void store_run(float* s, int off, const float (&v)[E]) {
  if constexpr (E >= 4) {
#pragma unroll
    for (int k = 0; k < E; k += 4)
      *reinterpret_cast<float4*>(s + sw(off + k)) = make_float4(v[k], v[k + 1], v[k + 2], v[k + 3]);
  } else {
#pragma unroll
    for (int i = 0; i < E; ++i) s[sw(off + i)] = v[i];
  }
}

// Stage A for runs of M1 = E·L elements.
template <typename T, int E>
__device__ void stage_a(const Args& a, float* s, int64_t row0, int M1) {
  const int L = M1 / E;
  const int tid = threadIdx.x, lane = tid & 31;
  const int li = lane % L, group = tid / L, ngroups = kThreads / L;
  const int runs_per_row = a.n / M1, nruns = a.rpb * runs_per_row;
  const T* x = static_cast<const T*>(a.x);
  // Two runs per group in flight: their loads issue back to back before either is used.
  for (int base = group; base - group < nruns; base += 2 * ngroups) {
    float v[2][E];
    int off[2];
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      const int run = base + u * ngroups;
      const int rl = run / runs_per_row;
      off[u] = rl * a.n + (run - rl * runs_per_row) * M1 + li * E;
      if (run < nruns && row0 + rl < a.rows) load_run<T, E>(x + row0 * a.n + off[u], a.vec, v[u]);
      else
#pragma unroll
        for (int i = 0; i < E; ++i) v[u][i] = 0.f;
    }
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      butterfly_regs<E>(v[u]);
      // Lane bits: every lane of the warp takes part (runs of absent rows carry zeros).
      for (int o = 1; o < L; o <<= 1) {
        const bool upper = li & o;
#pragma unroll
        for (int i = 0; i < E; ++i) {
          const float p = __shfl_xor_sync(0xffffffffu, v[u][i], o);
          v[u][i] = upper ? p - v[u][i] : v[u][i] + p;
        }
      }
      if (base + u * ngroups < nruns) store_run<E>(s, off[u], v[u]);
    }
  }
}

// Stage B: Q bits of the run index b_hi (bits [p, p+Q) of b / M1), for all rows, a and columns.
template <int Q>
__device__ void radix_pass(float* s, const Args& a, int K, int M1, int M2, int p) {
  constexpr int R = 1 << Q;
  const int M = M1 * M2;
  const int lowp = 1 << p, highs = M2 >> (p + Q);
  const int items = a.rpb * K * M1 * lowp * highs;
  const int stride = lowp * M1;
  for (int it = threadIdx.x; it < items; it += kThreads) {
    int rest = it;
    const int c = rest % M1;
    rest /= M1;
    const int lo = rest % lowp;
    rest /= lowp;
    const int hi = rest % highs;
    rest /= highs;
    const int ak = rest % K, rl = rest / K;
    const int base = rl * a.n + ak * M + (hi * (lowp * R) + lo) * M1 + c;
    float v[R];
#pragma unroll
    for (int i = 0; i < R; ++i) v[i] = s[sw(base + i * stride)];
    butterfly_regs<R>(v);
#pragma unroll
    for (int i = 0; i < R; ++i) s[sw(base + i * stride)] = v[i];
  }
}

template <int K>
__device__ void stage_k(float* s, const Args& a, int M) {
  constexpr hadamard_k::Table tbl = hadamard_k::table(K);
  const int items = a.rpb * M;
  for (int it = threadIdx.x; it < items; it += kThreads) {
    const int rl = it / M, b = it - rl * M;
    const int col = rl * a.n + b;
    float x[K], y[K];
#pragma unroll
    for (int i = 0; i < K; ++i) x[i] = s[sw(col + i * M)];
#pragma unroll
    for (int i = 0; i < K; ++i) {
      float acc = 0.f;
#pragma unroll
      for (int j = 0; j < K; ++j) acc += ((tbl.neg[i] >> j) & 1u) ? -x[j] : x[j];
      y[i] = acc;
    }
#pragma unroll
    for (int i = 0; i < K; ++i) s[sw(col + i * M)] = y[i];
  }
}

// Stages B, K and C for the rows row0.. of this block, starting from stage A's output in s.
template <typename T, int K>
__device__ __forceinline__ void finish(const Args& a, float* s, int64_t row0) {
  const int M = a.n / K;
  const int M1 = M < kRun ? M : kRun, M2 = M / M1;
  const int mb = a.m - __ffs(M1) + 1;  // bits of M2
  for (int p = 0; p < mb; p += 4) {
    const int q = min(4, mb - p);
    if (q == 4) radix_pass<4>(s, a, K, M1, M2, p);
    else if (q == 3) radix_pass<3>(s, a, K, M1, M2, p);
    else if (q == 2) radix_pass<2>(s, a, K, M1, M2, p);
    else radix_pass<1>(s, a, K, M1, M2, p);
    __syncthreads();
  }
  if constexpr (K > 1) {
    stage_k<K>(s, a, M);
    __syncthreads();
  }
  // Stage C.
  T* out = static_cast<T*>(a.out) + row0 * a.n;
  const int64_t valid_rows = min(static_cast<int64_t>(a.rpb), a.rows - row0);
  const int total = static_cast<int>(valid_rows) * a.n;
  if (a.vec) {
    for (int e = threadIdx.x * 8; e < total; e += kThreads * 8) {
      const float4 lo = *reinterpret_cast<const float4*>(s + sw(e)), hi = *reinterpret_cast<const float4*>(s + sw(e + 4));
      float v[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] *= a.scale;
      detail::store_floats<T, 8>(out + e, v);
    }
  } else {
    for (int e = threadIdx.x; e < total; e += kThreads) out[e] = detail::from_float<T>(s[sw(e)] * a.scale);
  }
}

template <typename T, int K>
__global__ void __launch_bounds__(kThreads) hadamard_kernel(Args a) {
  extern __shared__ __align__(16) float s[];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * a.rpb;
  const int M = a.n / K;
  const int M1 = M < kRun ? M : kRun;
  if (M1 == kRun) stage_a<T, 16>(a, s, row0, M1);
  else if (M1 >= 8) stage_a<T, 8>(a, s, row0, M1);
  else if (M1 == 4) stage_a<T, 4>(a, s, row0, M1);
  else if (M1 == 2) stage_a<T, 2>(a, s, row0, M1);
  else stage_a<T, 1>(a, s, row0, M1);
  __syncthreads();
  finish<T, K>(a, s, row0);
}

template <typename T, int K>
Status launch_k(const HadamardParams& p, cudaStream_t stream) {
  const int n = static_cast<int>(p.n);
  int m = 0;
  while ((K << (m + 1)) <= n) ++m;
  // Rows per block so that a block holds ≥ 8192 elements: its stage-A loads (all issued before the
  // first butterfly) then keep 16 KB of fp16 in flight per block. Measured for 16384 × 4096 fp16:
  // one row per block 0.17-0.19 ms, two rows 0.138 ms; a persistent variant that prefetched the next
  // rows into registers (104 registers, 2 blocks per SM) took 0.32 ms and capping registers at 48 for
  // 5 blocks per SM 0.165 ms; both were dropped.
  const int rpb = static_cast<int>(std::clamp<int64_t>(8192 / n, 1, std::max<int64_t>(p.rows, 1)));
  // Rounded up to whole 128-float blocks: the swizzle permutes within them.
  const size_t smem = (static_cast<size_t>(rpb) * n + 127) / 128 * 128 * sizeof(float);
  if (smem > static_cast<size_t>(detail::max_smem_optin())) return unsupported("hadamard: n too large for shared memory");
  if (smem > 48 * 1024) QK_TRY_CUDA(cudaFuncSetAttribute(hadamard_kernel<T, K>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const bool vec = (static_cast<int64_t>(n) * sizeof(T)) % 16 == 0 && (n / K) >= 8 && detail::aligned16(p.x) && detail::aligned16(p.out);
  Args a{p.x, p.out, p.rows, n, m, rpb, p.scale, vec};
  const int64_t blocks = detail::ceil_div(p.rows, rpb);
  if (blocks > 0x7fffffffLL) return unsupported("hadamard: too many rows for one launch");
  hadamard_kernel<T, K><<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(a);
  QK_CHECK_LAUNCH();
  return Status{};
}

template <typename T>
Status launch_hadamard(const HadamardParams& p, cudaStream_t stream) {
  if (p.rows == 0) return Status{};
  if constexpr (sizeof(T) == 2) {
    if (regs_applies(p.n, detail::aligned16(p.x) && detail::aligned16(p.out))) switch (p.n) {
        case 2048: return launch_regs<T, 11>(p, stream);
        case 4096: return launch_regs<T, 12>(p, stream);
        case 8192: return launch_regs3<T, 13>(p, stream);
        default: return launch_regs3<T, 14>(p, stream);
      }
  }
  switch (hadamard_k::factor_k(p.n)) {
    case 1: return launch_k<T, 1>(p, stream);
    case 12: return launch_k<T, 12>(p, stream);
    case 20: return launch_k<T, 20>(p, stream);
    case 28: return launch_k<T, 28>(p, stream);
    default: return invalid("hadamard: n must be K·2^m with K in {1, 12, 20, 28}");
  }
}

}  // namespace quench::kernels::hadamard_detail
