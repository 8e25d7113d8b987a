#pragma once
// One pass over [rows, cols]: each thread owns `vec` adjacent channels and walks a slice of rows,
// keeping float partials in registers; a block folds its rows in shared memory and writes one
// partial per channel and slice; a small second kernel folds the slices in double.
#include <algorithm>
#include <type_traits>

#include "kernels/channel_stats/plan.h"
#include "kernels/detail/device.cuh"

namespace quench::kernels::channel_stats_detail {

using detail::load_floats;

struct KernelArgs {
  int64_t rows, cols, row_stride, rows_per_slice;
  int tx;
  int bins, hist_replicas;
  float hist_scale, hist_offset;
  const float* shift;              // [cols] or nullptr (HIGHER only)
  float* partial;                  // [slices][stats][cols]
  unsigned long long* hist_counts; // [bins]
  unsigned* row_absmax;            // [rows] as float bits (non-negative floats order like their bits), or nullptr
};

// Histogram modes: no histogram, counters in shared memory (the fast path, branch-free per
// element), or global 64-bit atomics (too many bins for shared memory).
enum HistMode { kNoHist = 0, kSharedHist = 1, kGlobalHist = 2 };

// Packed 16-bit extremes: min/max of fp16/bf16 pairs in one instruction (HMNMX2). A min/max of the
// narrow values is exact, so converting it to float at the end gives the float min/max. Like
// fminf/fmaxf, min.f16x2 / min.bf16x2 return the other operand when one is NaN.
template <typename T> __device__ __forceinline__ uint32_t pmin16x2(uint32_t a, uint32_t b);
template <typename T> __device__ __forceinline__ uint32_t pmax16x2(uint32_t a, uint32_t b);
template <> __device__ __forceinline__ uint32_t pmin16x2<__half>(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("min.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
template <> __device__ __forceinline__ uint32_t pmax16x2<__half>(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("max.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
template <> __device__ __forceinline__ uint32_t pmin16x2<__nv_bfloat16>(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("min.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
template <> __device__ __forceinline__ uint32_t pmax16x2<__nv_bfloat16>(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("max.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}
// +inf / -inf in both halves.
template <typename T> constexpr uint32_t kPosInf16x2 = std::is_same_v<T, __half> ? 0x7c007c00u : 0x7f807f80u;
template <typename T> constexpr uint32_t kNegInf16x2 = std::is_same_v<T, __half> ? 0xfc00fc00u : 0xff80ff80u;

// HIGHER: power sums of d = x - shift up to the fourth and the row maxima (calibration's form);
// otherwise the five plain statistics, with the registers of the fast path untouched.
template <typename T, int VEC, bool HIGHER, int HM>
__global__ void __launch_bounds__(kThreads, 2) stats_kernel(const T* __restrict__ x, KernelArgs a) {
  constexpr int NS = HIGHER ? kStatsHigher : kStats;
  // 16-bit vectors of the plain form keep their extremes as packed pairs (3 instructions per
  // pair instead of 6) and are widened only for the sums and the histogram.
  constexpr bool PACKED = !HIGHER && detail::kHalfType<T> && VEC >= 2;
  constexpr int NW = PACKED ? VEC / 2 : 1;
  extern __shared__ __align__(16) unsigned char smem[];
  const int reps = a.hist_replicas;
  unsigned* shist = reinterpret_cast<unsigned*>(smem);
  float* red = reinterpret_cast<float*>(smem + ((static_cast<size_t>(reps) * a.bins * 4 + 15) / 16) * 16);

  const int tid = threadIdx.x;
  const int cx = tid % a.tx, cy = tid / a.tx, ty = kThreads / a.tx;
  const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * a.tx + cx) * VEC;
  const bool active = c0 < a.cols;  // with VEC > 1 cols is a multiple of VEC
  const int64_t r_begin = static_cast<int64_t>(blockIdx.y) * a.rows_per_slice;
  const int64_t r_end = min(a.rows, r_begin + a.rows_per_slice);

  for (int i = tid; i < reps * a.bins; i += kThreads) shist[i] = 0u;
  __syncthreads();
  // Warps take turns over the replicas so that a bin hammered by every lane is spread out.
  unsigned* my_hist = reps > 0 ? shist + ((tid / 32) % reps) * a.bins : nullptr;
  const float bin_max = static_cast<float>(a.bins - 1);
  const unsigned bin_last = static_cast<unsigned>(a.bins - 1);
  // Shared counters: bin = min(trunc_u32(fma(v, scale, offset)), bins - 1). The unsigned
  // conversion saturates (below 0 gives 0), so this is the clamp-then-floor of the documented
  // formula in two instructions, with no per-element NaN test or branch: a NaN is counted in the
  // bin its conversion gives and taken out again after the loop (its thread's sum is then NaN).
  auto shared_bin = [&](float e) { return min(__float2uint_rz(fmaf(e, a.hist_scale, a.hist_offset)), bin_last); };
  auto count = [&](float e) {
    if constexpr (HM == kSharedHist) {
      atomicAdd(my_hist + shared_bin(e), 1u);
    } else if constexpr (HM == kGlobalHist) {
      if (e == e) {
        const float t = fminf(fmaxf(fmaf(e, a.hist_scale, a.hist_offset), 0.f), bin_max);
        atomicAdd(a.hist_counts + static_cast<int>(t), 1ull);
      }
    }
  };

  float amax[VEC], mn[VEC], mx[VEC], s[VEC], ss[VEC], s3[HIGHER ? VEC : 1], s4[HIGHER ? VEC : 1], sh[HIGHER ? VEC : 1];
  uint32_t pam[NW], pmn[NW], pmx[NW];
#pragma unroll
  for (int k = 0; k < NW; ++k) {
    pam[k] = 0u;
    pmn[k] = kPosInf16x2<T>;
    pmx[k] = kNegInf16x2<T>;
  }
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    amax[j] = 0.f;
    mn[j] = INFINITY;
    mx[j] = -INFINITY;
    s[j] = 0.f;
    ss[j] = 0.f;
    if constexpr (HIGHER) {
      s3[j] = 0.f;
      s4[j] = 0.f;
      sh[j] = a.shift && active ? a.shift[c0 + j] : 0.f;
    }
  }
  // The lanes of one row (tx of them, aligned in the warp) fold their row's absmax by shuffles.
  const unsigned lane = tid % 32;
  const unsigned group_mask = a.tx >= 32 ? 0xffffffffu : ((1u << a.tx) - 1u) << (lane & ~static_cast<unsigned>(a.tx - 1));
  auto row_max = [&](int64_t r, float m) {
    for (int o = a.tx / 2; o > 0; o /= 2) m = fmaxf(m, __shfl_xor_sync(group_mask, m, o));
    if (cx == 0) atomicMax(a.row_absmax + r, __float_as_uint(m));
  };
  auto accumulate = [&](const float (&v)[VEC]) {
    float rm = 0.f;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const float e = v[j];
      amax[j] = fmaxf(amax[j], fabsf(e));
      rm = fmaxf(rm, fabsf(e));
      mn[j] = fminf(mn[j], e);
      mx[j] = fmaxf(mx[j], e);
      if constexpr (HIGHER) {
        const float d = e - sh[j], d2 = d * d;
        s[j] += d;
        ss[j] += d2;
        s3[j] = fmaf(d2, d, s3[j]);
        s4[j] = fmaf(d2, d2, s4[j]);
      } else {
        s[j] += e;
        ss[j] = fmaf(e, e, ss[j]);
      }
      count(e);
    }
    return rm;
  };
  // One 16-byte vector of 16-bit values as words (the packed path only).
  auto accumulate_words = [&](const uint4& q) {
    if constexpr (PACKED) {
      const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
      for (int k = 0; k < NW; ++k) {
        pam[k] = pmax16x2<T>(pam[k], w[k] & 0x7fff7fffu);
        pmn[k] = pmin16x2<T>(pmn[k], w[k]);
        pmx[k] = pmax16x2<T>(pmx[k], w[k]);
        const float e0 = detail::lo16<T>(w[k]), e1 = detail::hi16<T>(w[k]);
        s[2 * k] += e0;
        ss[2 * k] = fmaf(e0, e0, ss[2 * k]);
        s[2 * k + 1] += e1;
        ss[2 * k + 1] = fmaf(e1, e1, ss[2 * k + 1]);
        count(e0);
        count(e1);
      }
    }
  };

  // Four rows in flight per thread before any is used: enough outstanding 16-byte loads per SM
  // to cover DRAM latency at full bandwidth.
  constexpr int U = 4;
  if constexpr (HIGHER) {
    // All lanes of a row group walk the rows together (the row maxima's shuffles need them);
    // lanes past the last channel load nothing and count nothing.
    int64_t r = r_begin + cy;
    for (; r + (U - 1) * ty < r_end; r += U * ty) {
      float v[U][VEC];
      if (active) {
#pragma unroll
        for (int u = 0; u < U; ++u) load_floats<T, VEC>(x + (r + u * ty) * a.row_stride + c0, v[u]);
      }
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const float rm = active ? accumulate(v[u]) : 0.f;
        if (a.row_absmax) row_max(r + u * ty, rm);
      }
    }
    for (; r < r_end; r += ty) {
      float v[VEC];
      if (active) load_floats<T, VEC>(x + r * a.row_stride + c0, v);
      const float rm = active ? accumulate(v) : 0.f;
      if (a.row_absmax) row_max(r, rm);
    }
  } else if constexpr (PACKED) {
    static_assert(VEC * sizeof(T) == 16, "packed path reads one 16-byte vector per row");
    if (active) {
      int64_t r = r_begin + cy;
      for (; r + (U - 1) * ty < r_end; r += U * ty) {
        uint4 q[U];
#pragma unroll
        for (int u = 0; u < U; ++u) q[u] = *reinterpret_cast<const uint4*>(x + (r + u * ty) * a.row_stride + c0);
#pragma unroll
        for (int u = 0; u < U; ++u) accumulate_words(q[u]);
      }
      for (; r < r_end; r += ty) accumulate_words(*reinterpret_cast<const uint4*>(x + r * a.row_stride + c0));
    }
#pragma unroll
    for (int k = 0; k < NW; ++k) {
      amax[2 * k] = detail::lo16<T>(pam[k]);
      amax[2 * k + 1] = detail::hi16<T>(pam[k]);
      mn[2 * k] = detail::lo16<T>(pmn[k]);
      mn[2 * k + 1] = detail::hi16<T>(pmn[k]);
      mx[2 * k] = detail::lo16<T>(pmx[k]);
      mx[2 * k + 1] = detail::hi16<T>(pmx[k]);
    }
  } else if (active) {
    int64_t r = r_begin + cy;
    for (; r + (U - 1) * ty < r_end; r += U * ty) {
      float v[U][VEC];
#pragma unroll
      for (int u = 0; u < U; ++u) load_floats<T, VEC>(x + (r + u * ty) * a.row_stride + c0, v[u]);
#pragma unroll
      for (int u = 0; u < U; ++u) accumulate(v[u]);
    }
    for (; r < r_end; r += ty) {
      float v[VEC];
      load_floats<T, VEC>(x + r * a.row_stride + c0, v);
      accumulate(v);
    }
  }

  if constexpr (HM == kSharedHist) {
    // NaNs were counted in the bin their conversion gave: a thread whose sums turned NaN (a NaN
    // input, or +inf and -inf together) walks its rows again and takes its NaNs back out. Finite
    // data never gets here.
    bool nan_seen = false;
#pragma unroll
    for (int j = 0; j < VEC; ++j) nan_seen |= !(s[j] == s[j]);
    if (nan_seen && active) {
      for (int64_t r = r_begin + cy; r < r_end; r += ty) {
        float v[VEC];
        load_floats<T, VEC>(x + r * a.row_stride + c0, v);
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (v[j] != v[j]) atomicSub(my_hist + shared_bin(v[j]), 1u);
      }
    }
  }

  // Fold the ty row-threads of each channel: one statistic at a time through shared memory.
  float* out = a.partial + static_cast<int64_t>(blockIdx.y) * NS * a.cols;
#pragma unroll
  for (int k = 0; k < NS; ++k) {
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      float v;
      if constexpr (HIGHER) v = k == 0 ? amax[j] : k == 1 ? mn[j] : k == 2 ? mx[j] : k == 3 ? s[j] : k == 4 ? ss[j] : k == 5 ? s3[j] : s4[j];
      else v = k == 0 ? amax[j] : k == 1 ? mn[j] : k == 2 ? mx[j] : k == 3 ? s[j] : ss[j];
      red[tid * VEC + j] = v;
    }
    __syncthreads();
    if (cy == 0 && active) {
      for (int j = 0; j < VEC; ++j) {
        float acc = red[cx * VEC + j];
        for (int y = 1; y < ty; ++y) {
          const float v = red[(y * a.tx + cx) * VEC + j];
          acc = k == 0 || k == 2 ? fmaxf(acc, v) : k == 1 ? fminf(acc, v) : acc + v;
        }
        out[static_cast<int64_t>(k) * a.cols + c0 + j] = acc;
      }
    }
    __syncthreads();
  }

  if (reps > 0) {
    for (int i = tid; i < a.bins; i += kThreads) {
      unsigned c = 0;
      for (int r = 0; r < reps; ++r) c += shist[r * a.bins + i];
      if (c) atomicAdd(a.hist_counts + i, static_cast<unsigned long long>(c));
    }
  }
}

// Slices folded in double: the per-block float partials cover a few hundred rows each, so the
// float rounding stays at the level of one slice and the cross-slice sum adds none. 32 channels ×
// 8 slice lanes per block, so each thread walks only slices/8 partials (a single thread per channel
// walking all slices was latency-bound and cost more than the main pass).
constexpr int kFinCols = 32, kFinLanes = 8;

static __global__ void __launch_bounds__(kFinCols * kFinLanes)
    finalize_kernel(const float* __restrict__ partial, int64_t slices, int64_t cols, int nstats, float* __restrict__ absmax,
                    float* __restrict__ mn, float* __restrict__ mx, double* __restrict__ sum, double* __restrict__ sumsq,
                    double* __restrict__ sum3, double* __restrict__ sum4) {
  __shared__ float sf[3][kFinLanes][kFinCols];
  __shared__ double sdbl[4][kFinLanes][kFinCols];
  const int cx = threadIdx.x % kFinCols, sy = threadIdx.x / kFinCols;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kFinCols + cx;
  const bool higher = nstats > kStats;
  float am = 0.f, lo = INFINITY, hi = -INFINITY;
  double s = 0.0, ss = 0.0, s3 = 0.0, s4 = 0.0;
  if (c < cols) {
#pragma unroll 2
    for (int64_t k = sy; k < slices; k += kFinLanes) {
      const float* p = partial + k * nstats * cols + c;
      am = fmaxf(am, p[0]);
      lo = fminf(lo, p[cols]);
      hi = fmaxf(hi, p[2 * cols]);
      s += p[3 * cols];
      ss += p[4 * cols];
      if (higher) {
        s3 += p[5 * cols];
        s4 += p[6 * cols];
      }
    }
  }
  sf[0][sy][cx] = am;
  sf[1][sy][cx] = lo;
  sf[2][sy][cx] = hi;
  sdbl[0][sy][cx] = s;
  sdbl[1][sy][cx] = ss;
  sdbl[2][sy][cx] = s3;
  sdbl[3][sy][cx] = s4;
  __syncthreads();
  if (sy == 0 && c < cols) {
    for (int y = 1; y < kFinLanes; ++y) {
      am = fmaxf(am, sf[0][y][cx]);
      lo = fminf(lo, sf[1][y][cx]);
      hi = fmaxf(hi, sf[2][y][cx]);
      s += sdbl[0][y][cx];
      ss += sdbl[1][y][cx];
      s3 += sdbl[2][y][cx];
      s4 += sdbl[3][y][cx];
    }
    absmax[c] = am;
    mn[c] = lo;
    mx[c] = hi;
    sum[c] = s;
    sumsq[c] = ss;
    if (sum3) {
      sum3[c] = s3;
      sum4[c] = s4;
    }
  }
}

static __global__ void __launch_bounds__(256) histogram_out_kernel(const unsigned long long* __restrict__ counts, int64_t bins,
                                                                  int64_t* __restrict__ histogram) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < bins; i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    histogram[i] = static_cast<int64_t>(counts[i]);
}

// The instantiation a plan launches: one per vector width, form and histogram mode, so the hot
// loop carries no per-element branch on any of them.
template <typename T>
auto kernel_for(const Plan& plan, int64_t bins) {
  constexpr int V16 = 16 / sizeof(T);
  using Fn = void (*)(const T*, KernelArgs);
  const int hm = bins == 0 ? kNoHist : plan.hist_replicas > 0 ? kSharedHist : kGlobalHist;
  auto pick = [&](auto higher, auto mode) -> Fn {
    constexpr bool H = decltype(higher)::value;
    constexpr int M = decltype(mode)::value;
    return plan.vec > 1 ? stats_kernel<T, V16, H, M> : stats_kernel<T, 1, H, M>;
  };
  auto with_mode = [&](auto higher) -> Fn {
    if (hm == kSharedHist) return pick(higher, std::integral_constant<int, kSharedHist>{});
    if (hm == kGlobalHist) return pick(higher, std::integral_constant<int, kGlobalHist>{});
    return pick(higher, std::integral_constant<int, kNoHist>{});
  };
  return plan.higher ? with_mode(std::true_type{}) : with_mode(std::false_type{});
}

template <typename T>
int resident_blocks(const Plan& plan, int64_t bins) {
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel_for<T>(plan, bins), kThreads, plan.smem_bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // not sticky; the launch reports real faults
    n = 0;
  }
  return n > 0 ? n : 2;
}

template <typename T>
Status launch_channel_stats(const ChannelStatsParams& p, cudaStream_t stream) {
  const Plan plan = make_plan(p, sizeof(T));
  char* ws = static_cast<char*>(p.workspace);
  auto* partial = reinterpret_cast<float*>(ws);
  auto* counts = reinterpret_cast<unsigned long long*>(ws + plan.partial_bytes);
  if (p.bins > 0) QK_TRY_CUDA(cudaMemsetAsync(counts, 0, plan.hist_bytes, stream));
  // Rows of zero channels have absmax 0; the others start at 0 and only grow (atomicMax on bits).
  if (p.row_absmax && p.rows > 0) QK_TRY_CUDA(cudaMemsetAsync(p.row_absmax, 0, static_cast<size_t>(p.rows) * sizeof(float), stream));
  if (p.cols > 0) {
    KernelArgs a{p.rows,
                 p.cols,
                 p.row_stride,
                 detail::ceil_div(std::max<int64_t>(p.rows, 1), plan.slices),
                 plan.tx,
                 static_cast<int>(p.bins),
                 plan.hist_replicas,
                 p.hist_scale,
                 p.hist_offset,
                 p.shift,
                 partial,
                 counts,
                 reinterpret_cast<unsigned*>(p.row_absmax)};
    const dim3 grid(static_cast<unsigned>(plan.grid_x), static_cast<unsigned>(plan.slices));
    const T* x = static_cast<const T*>(p.x);
    kernel_for<T>(plan, p.bins)<<<grid, kThreads, plan.smem_bytes, stream>>>(x, a);
    QK_CHECK_LAUNCH();
  }
  if (p.cols > 0) {
    finalize_kernel<<<static_cast<unsigned>(detail::ceil_div(p.cols, kFinCols)), kFinCols * kFinLanes, 0, stream>>>(
        partial, plan.slices, p.cols, plan.stats, p.absmax, p.min, p.max, p.sum, p.sumsq, p.sum3, p.sum4);
    QK_CHECK_LAUNCH();
  }
  if (p.bins > 0) {
    const int blocks = static_cast<int>(std::min<int64_t>(detail::ceil_div(p.bins, 256), 1024));
    histogram_out_kernel<<<blocks, 256, 0, stream>>>(counts, p.bins, p.histogram);
    QK_CHECK_LAUNCH();
  }
  return Status{};
}

}  // namespace quench::kernels::channel_stats_detail
