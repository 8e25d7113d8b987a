#pragma once
// Quantization kernels over a contiguous [rows, cols] tensor. Memory-bound: every variant reads the
// input once from DRAM and writes the output once, with 16-byte accesses where the layout allows.
#include <algorithm>
#include <type_traits>

#include "kernels/detail/device.cuh"
#include "kernels/fake_quant.h"
#include "kernels/quant_math.h"

namespace quench::kernels::quant_detail {

using detail::load_floats;
using detail::store_floats;
namespace qm = qmath;

constexpr int kThreads = 256;

// Element formulas, bit for bit those of qmath (the CPU reference) but without the conversion unit:
// rintf and __float2int_rn issue at a quarter of the FMA rate on Hopper, and quantize/fake-quant
// spent two of them per element (both ran at ~0.42 ms on 256 Mi fp16 elements whatever they wrote).
// Adding 1.5·2^23 rounds any |y| ≤ 2^22 to an integer, half to even, as rintf does.
constexpr float kRoundMagic = 12582912.f;

// = qmath::quantize. The pre-clamp to ±1024 keeps y in the magic number's range and changes no
// result: every [lo - zero, hi - zero] lies inside it (|lo|, |hi|, zero ≤ 255). NaN becomes -1024
// and ends at lo, as fmaxf(NaN, lo) = lo does in the reference; ±inf end at lo/hi in both.
__device__ __forceinline__ float quantize_q(float x, float scale, float zero, float lo, float hi) {
  const float y = fminf(fmaxf(x / scale, -1024.f), 1024.f);
  const float r = __fsub_rn(__fadd_rn(y, kRoundMagic), kRoundMagic);
  return fminf(fmaxf(r + zero, lo), hi);
}

// x / scale correctly rounded, with the reciprocal taken once per run: with y = RN(1/s) and
// q = RN(x·y), RN(q + (x − s·q)·y) is the correctly rounded quotient barring overflow and
// underflow (Markstein's theorem; the same steps div.rn runs per element after its own reciprocal
// and range check). Three FMA-pipe instructions per element instead of div.rn's sequence, which
// left quantize → uint8 issue-bound at 70% of copy bandwidth. x is first clamped to ±2048·s: that
// changes no quantized value (quotients past ±1024 are clamped to it in quantize_q) and keeps
// every step finite; NaN becomes −2048·s and ends at lo, as it does through x / s. A quotient
// that underflows rounds to 0 either way. Scales outside [2^-100, 2^100] (fast false) take
// quantize_q's division instead.
struct Divider {
  float s, inv, cap;
  bool fast;
  __device__ __forceinline__ explicit Divider(float scale)
      : s(scale), inv(1.f / scale), cap(2048.f * scale), fast(scale >= 0x1p-100f && scale <= 0x1p100f) {}
  __device__ __forceinline__ float operator()(float x) const {  // only when fast
    const float xc = fminf(fmaxf(x, -cap), cap);
    const float q = __fmul_rn(xc, inv);
    return __fmaf_rn(__fmaf_rn(-q, s, xc), inv, q);
  }
};

// = quantize_q(x, d.s, zero, lo, hi). No clamp to ±1024 here: the divider's quotient is within
// ±2048, inside the magic number's range, and lo/hi clamp the rest the same way.
__device__ __forceinline__ float quantize_d(float x, const Divider& d, float zero, float lo, float hi) {
  const float y = d(x);
  const float r = __fsub_rn(__fadd_rn(y, kRoundMagic), kRoundMagic);
  return fminf(fmaxf(r + zero, lo), hi);
}

// The low byte of an integral q in [-128, 255] (two's complement when negative): q + 1.5·2^23 holds
// 2^22 + q in its mantissa.
__device__ __forceinline__ uint32_t q_byte(float q) { return __float_as_uint(__fadd_rn(q, kRoundMagic)) & 0xffu; }
constexpr int kOpFake = static_cast<int>(QuantOp::Fake);
constexpr int kOpQuantize = static_cast<int>(QuantOp::Quantize);
constexpr int kOpDequantize = static_cast<int>(QuantOp::Dequantize);
constexpr int kOpParams = static_cast<int>(QuantOp::ParamsOnly);

// q leaves and enters as raw bytes: two's complement for symmetric (int8), plain for asymmetric
// (uint8). Words are taken apart and assembled with shifts (see detail::word_of for why not a Pack).
template <int VEC>
__device__ __forceinline__ void load_q(const uint8_t* __restrict__ p, bool is_signed, float (&v)[VEC]) {
  // Byte to float without the conversion unit: 2^23 + b as float bits, minus 2^23 (signed bytes
  // are offset by 128 first).
  auto byte = [is_signed](uint32_t w, int k) {
    const uint32_t b = ((w >> (8 * k)) & 0xffu) ^ (is_signed ? 0x80u : 0u);
    return __fsub_rn(__uint_as_float(0x4B000000u | b), is_signed ? 8388736.f : 8388608.f);
  };
  if constexpr (VEC % 4 == 0 && VEC <= 16) {
    uint32_t w[VEC / 4];
    if constexpr (VEC == 16) {
      const uint4 q = *reinterpret_cast<const uint4*>(p);
      w[0] = q.x, w[1] = q.y, w[2] = q.z, w[3] = q.w;
    } else if constexpr (VEC == 8) {
      const uint2 q = *reinterpret_cast<const uint2*>(p);
      w[0] = q.x, w[1] = q.y;
    } else {
      w[0] = *reinterpret_cast<const uint32_t*>(p);
    }
#pragma unroll
    for (int j = 0; j < VEC; ++j) v[j] = byte(w[j / 4], j % 4);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) v[j] = is_signed ? static_cast<float>(static_cast<int8_t>(p[j])) : static_cast<float>(p[j]);
  }
}
template <int VEC>
__device__ __forceinline__ void store_q(uint8_t* __restrict__ p, const float (&v)[VEC]) {
  if constexpr (VEC % 4 == 0 && VEC <= 16) {
    uint32_t w[VEC / 4];
#pragma unroll
    for (int k = 0; k < VEC / 4; ++k) {
      w[k] = 0;
#pragma unroll
      for (int j = 0; j < 4; ++j) w[k] |= q_byte(v[4 * k + j]) << (8 * j);
    }
    if constexpr (VEC == 16) *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
    else if constexpr (VEC == 8) *reinterpret_cast<uint2*>(p) = make_uint2(w[0], w[1]);
    else *reinterpret_cast<uint32_t*>(p) = w[0];
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) p[j] = static_cast<uint8_t>(q_byte(v[j]));
  }
}

struct ApplyArgs {
  const void* in;
  void* out;
  int64_t rows, cols;
  const float* scale;
  const int32_t* zero;
  int64_t group, srs;
  float lo, hi;
};

// Each thread keeps one column vector for the whole launch (the grid's x dimension covers the
// row), so the group index is computed once and per-column scales stay in registers. The grid is
// one wave of resident blocks, each streaming a contiguous band of rows U at a time (U loads in
// flight before the first is used). Measured on fp16 [65536, 4096]: rows strided by the grid
// height with eight in flight and a multi-wave grid fell from 79% to 50% of copy bandwidth.
// ONE: each thread's vector lies inside one group (group % VEC == 0: per tensor, per row, groups),
// so one scale per row serves it; otherwise (per column) a scale per element. Separate kernels:
// the per-element arrays of the second case took 123 registers in the first (2 blocks per SM,
// dequantize at 59% of copy bandwidth).
template <typename T, int VEC, int OP, bool ONE>
__global__ void __launch_bounds__(kThreads) apply_kernel(ApplyArgs a, int64_t rows_per_block) {
  const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * VEC;
  if (c0 >= a.cols) return;
  const int64_t g0 = c0 / a.group;
  const bool is_signed = a.zero == nullptr;
  // Scales and zeros from L1 cost two loads per element if fetched per element: per-tensor and
  // per-column ones (srs = 0) are loaded once per thread, per-row and per-group ones once per row.
  float s_pre[ONE ? 1 : VEC], z_pre[ONE ? 1 : VEC];
  if constexpr (ONE) {
    s_pre[0] = a.srs == 0 ? a.scale[g0] : 0.f;
    z_pre[0] = a.srs == 0 && a.zero ? static_cast<float>(a.zero[g0]) : 0.f;
  } else {
    int64_t g = g0, w = c0 - g0 * a.group;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      s_pre[j] = a.srs == 0 ? a.scale[g] : 0.f;
      z_pre[j] = a.srs == 0 && a.zero ? static_cast<float>(a.zero[g]) : 0.f;
      if (++w == a.group) w = 0, ++g;
    }
  }
  constexpr int U = VEC > 8 ? 2 : 4;
  const int64_t r_begin = static_cast<int64_t>(blockIdx.y) * rows_per_block;
  const int64_t r_end = min(a.rows, r_begin + rows_per_block);
  for (int64_t r0 = r_begin; r0 < r_end; r0 += U) {
    float v[U][VEC], s_row[U], z_row[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t r = r0 + u;
      if (ONE) s_row[u] = s_pre[0], z_row[u] = z_pre[0];
      if (r < r_end) {
        const int64_t off = r * a.cols + c0;
        if constexpr (OP == kOpDequantize) load_q<VEC>(static_cast<const uint8_t*>(a.in) + off, is_signed, v[u]);
        else load_floats<T, VEC>(static_cast<const T*>(a.in) + off, v[u]);
        if (ONE && a.srs != 0) {
          s_row[u] = a.scale[r * a.srs + g0];
          z_row[u] = a.zero ? static_cast<float>(a.zero[r * a.srs + g0]) : 0.f;
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t r = r0 + u;
      if (r >= r_end) continue;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float s, z;
        if constexpr (ONE) {
          s = s_row[u], z = z_row[u];
        } else if (a.srs == 0) {
          s = s_pre[j], z = z_pre[j];
        } else {  // groups that are no multiple of VEC (rare): a division per element
          const int64_t k = r * a.srs + (c0 + j) / a.group;
          s = a.scale[k];
          z = a.zero ? static_cast<float>(a.zero[k]) : 0.f;
        }
        if constexpr (OP == kOpFake) v[u][j] = qm::dequantize(quantize_q(v[u][j], s, z, a.lo, a.hi), s, z);
        else if constexpr (OP == kOpQuantize) v[u][j] = quantize_q(v[u][j], s, z, a.lo, a.hi);
        else v[u][j] = qm::dequantize(v[u][j], s, z);
      }
      const int64_t off = r * a.cols + c0;
      if constexpr (OP == kOpQuantize) store_q<VEC>(static_cast<uint8_t*>(a.out) + off, v[u]);
      else store_floats<T, VEC>(static_cast<T*>(a.out) + off, v[u]);
    }
  }
}

// Blocks of `kernel` that fit on the device at once (one wave), at least one per SM.
template <typename K>
int64_t resident_blocks(K kernel, int threads) {
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0) != cudaSuccess || per_sm < 1) per_sm = 1;
  return static_cast<int64_t>(per_sm) * detail::sm_count();
}

struct DynArgs {
  const void* in;
  void* out;
  int64_t rows, cols, group, groups_per_row, segments;
  int bits;
  bool symmetric;
  float clip, lo, hi;
  float* scale_out;
  int32_t* zero_out;
  int lps;  // lanes per segment (warp kernel)
};

struct Range {
  float mn, mx, am;
};

__device__ __forceinline__ void scale_zero(const DynArgs& a, const Range& r, float* s, float* z) {
  if (a.symmetric) {
    *s = qm::scale_symmetric(r.am, a.bits, a.clip);
    *z = 0.f;
  } else {
    qm::scale_zero_asymmetric(r.mn, r.mx, a.bits, a.clip, s, z);
  }
}

template <typename T, int VEC, int OP>
__device__ __forceinline__ void write_segment_part(const DynArgs& a, int64_t off, float (&v)[VEC], float s, float z) {
  if constexpr (OP != kOpParams) {
    const Divider d(s);
    // One loop per divider mode, so that the fast one carries no per-element division.
    auto quantize_all = [&](auto fast) {
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const float q = decltype(fast)::value ? quantize_d(v[j], d, z, a.lo, a.hi) : quantize_q(v[j], s, z, a.lo, a.hi);
        v[j] = OP == kOpFake ? qm::dequantize(q, s, z) : q;
      }
    };
    if (d.fast) quantize_all(std::true_type{});
    else quantize_all(std::false_type{});
    if constexpr (OP == kOpQuantize) store_q<VEC>(static_cast<uint8_t*>(a.out) + off, v);
    else store_floats<T, VEC>(static_cast<T*>(a.out) + off, v);
  }
}

// Short runs (at most 32 vectors, e.g. groups of 128): a power-of-two set of lanes per run, the
// run held in registers, reduced with shuffles; U run-sets per warp step. Measured on fp16 groups
// of 128: U = 1 at 32 registers (a full SM of warps) 72% of copy bandwidth; U = 4 on a 5-wave grid
// 56%, U = 2 on one wave 64%: here more resident warps beat more loads per warp.
template <typename T, int VEC, int OP>
__device__ __forceinline__ void dyn_warp_simple(DynArgs a) {
  constexpr int U = 1;
  const int lane = threadIdx.x & 31, lps = a.lps;
  const int sub = lane / lps, li = lane % lps;
  const int64_t per_warp = 32 / lps;
  const int64_t warp = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) / 32;
  const int64_t nwarps = static_cast<int64_t>(gridDim.x) * kThreads / 32;
  const T* in = static_cast<const T*>(a.in);
  for (int64_t base = warp * per_warp * U; base < a.segments; base += nwarps * per_warp * U) {
    float v[U][VEC];
    int64_t seg[U], off[U];
    bool valid[U], have[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      seg[u] = base + u * per_warp + sub;
      valid[u] = seg[u] < a.segments;
      int64_t len = 0;
      off[u] = 0;
      if (valid[u]) {
        const int64_t r = seg[u] / a.groups_per_row, gi = seg[u] - r * a.groups_per_row;
        off[u] = r * a.cols + gi * a.group;
        len = min(a.group, a.cols - gi * a.group);
      }
      have[u] = valid[u] && li * VEC < len;
      if (have[u]) load_floats<T, VEC>(in + off[u] + li * VEC, v[u]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      Range rg{INFINITY, -INFINITY, 0.f};
      if (have[u]) {
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          rg.mn = fminf(rg.mn, v[u][j]);
          rg.mx = fmaxf(rg.mx, v[u][j]);
          rg.am = fmaxf(rg.am, fabsf(v[u][j]));
        }
      }
      for (int o = 1; o < lps; o <<= 1) {
        rg.mn = fminf(rg.mn, __shfl_xor_sync(0xffffffffu, rg.mn, o));
        rg.mx = fmaxf(rg.mx, __shfl_xor_sync(0xffffffffu, rg.mx, o));
        rg.am = fmaxf(rg.am, __shfl_xor_sync(0xffffffffu, rg.am, o));
      }
      float s, z;
      scale_zero(a, rg, &s, &z);
      if (have[u]) write_segment_part<T, VEC, OP>(a, off[u] + li * VEC, v[u], s, z);
      if (valid[u] && li == 0) {
        if (a.scale_out) a.scale_out[seg[u]] = s;
        if (a.zero_out) a.zero_out[seg[u]] = static_cast<int32_t>(z);
      }
    }
  }
}

// The same with the next run's loads issued before this run is reduced and written (software
// pipelining, the loads held as raw 16-byte words: 8 registers for 16 halves): each warp keeps two
// runs' bytes in flight at the occupancy of one. Quantize → uint8 was read-latency-bound at 70%
// of copy bandwidth with one run in flight (its read rate matched fake-quant's, which writes
// twice the bytes).
template <typename T, int VEC, int OP>
__global__ void __launch_bounds__(kThreads) dyn_warp_kernel(DynArgs a) {
  // Only Quantize: fake-quant (which writes twice the bytes) measured 1% slower pipelined.
  constexpr int kWords = OP == kOpQuantize && (sizeof(T) * VEC) % 16 == 0 ? static_cast<int>(sizeof(T) * VEC / 16) : 0;
  if constexpr (kWords == 0) {
    dyn_warp_simple<T, VEC, OP>(a);
  } else {
    const int lane = threadIdx.x & 31, lps = a.lps;
    const int sub = lane / lps, li = lane % lps;
    const int64_t per_warp = 32 / lps;
    const int64_t warp = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) / 32;
    const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads / 32 * per_warp;
    const T* in = static_cast<const T*>(a.in);
    struct Run {
      int64_t seg, off;
      bool valid, have;
      uint4 w[kWords];
    };
    auto fetch = [&](int64_t base, Run& r) {
      r.seg = base + sub;
      r.valid = r.seg < a.segments;
      int64_t len = 0;
      r.off = 0;
      if (r.valid) {
        const int64_t row = r.seg / a.groups_per_row, gi = r.seg - row * a.groups_per_row;
        r.off = row * a.cols + gi * a.group;
        len = min(a.group, a.cols - gi * a.group);
      }
      r.have = r.valid && li * VEC < len;
      if (r.have) {
        const uint4* src = reinterpret_cast<const uint4*>(in + r.off + li * VEC);
#pragma unroll
        for (int i = 0; i < kWords; ++i) r.w[i] = src[i];
      }
    };
    Run cur;
    fetch(warp * per_warp, cur);
    for (int64_t base = warp * per_warp; base < a.segments; base += step) {
      Run nxt;
      fetch(base + step, nxt);
      float v[VEC];
      Range rg{INFINITY, -INFINITY, 0.f};
      if (cur.have) {
        constexpr int kPer = 16 / static_cast<int>(sizeof(T));
#pragma unroll
        for (int i = 0; i < kWords; ++i) {
          float part[kPer];
          detail::unword<T>(cur.w[i].x, part, 0);
          detail::unword<T>(cur.w[i].y, part, 1);
          detail::unword<T>(cur.w[i].z, part, 2);
          detail::unword<T>(cur.w[i].w, part, 3);
#pragma unroll
          for (int j = 0; j < kPer; ++j) v[i * kPer + j] = part[j];
        }
        // Only the extremes the scale needs (a uniform branch): two instructions per element fewer.
        if (a.symmetric) {
#pragma unroll
          for (int j = 0; j < VEC; ++j) rg.am = fmaxf(rg.am, fabsf(v[j]));
        } else {
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            rg.mn = fminf(rg.mn, v[j]);
            rg.mx = fmaxf(rg.mx, v[j]);
          }
        }
      }
      if (a.symmetric) {
        for (int o = 1; o < lps; o <<= 1) rg.am = fmaxf(rg.am, __shfl_xor_sync(0xffffffffu, rg.am, o));
      } else {
        for (int o = 1; o < lps; o <<= 1) {
          rg.mn = fminf(rg.mn, __shfl_xor_sync(0xffffffffu, rg.mn, o));
          rg.mx = fmaxf(rg.mx, __shfl_xor_sync(0xffffffffu, rg.mx, o));
        }
      }
      float sc, z;
      scale_zero(a, rg, &sc, &z);
      if (cur.have) write_segment_part<T, VEC, OP>(a, cur.off + li * VEC, v, sc, z);
      if (cur.valid && li == 0) {
        if (a.scale_out) a.scale_out[cur.seg] = sc;
        if (a.zero_out) a.zero_out[cur.seg] = static_cast<int32_t>(z);
      }
      cur = nxt;
    }
  }
}

// The block's range from every thread's partial one; all threads get the result. red is free
// again on return (the next run reuses it).
__device__ __forceinline__ void block_range(Range& rg, float (&red)[3][kThreads / 32], int lane, int warp) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    rg.mn = fminf(rg.mn, __shfl_xor_sync(0xffffffffu, rg.mn, o));
    rg.mx = fmaxf(rg.mx, __shfl_xor_sync(0xffffffffu, rg.mx, o));
    rg.am = fmaxf(rg.am, __shfl_xor_sync(0xffffffffu, rg.am, o));
  }
  if (lane == 0) {
    red[0][warp] = rg.mn;
    red[1][warp] = rg.mx;
    red[2][warp] = rg.am;
  }
  __syncthreads();
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) {
    rg.mn = fminf(rg.mn, red[0][w]);
    rg.mx = fmaxf(rg.mx, red[1][w]);
    rg.am = fmaxf(rg.am, red[2][w]);
  }
  __syncthreads();
}

// Long runs (whole rows: per-token activations, per-channel weights): one block per run. Runs
// longer than the register path below take a second pass that re-reads the run, which the first
// pass has just brought into L1/L2, so DRAM still sees one read.
template <typename T, int VEC, int OP, int RU>
__global__ void __launch_bounds__(kThreads) dyn_block_kernel(DynArgs a) {
  __shared__ float red[3][kThreads / 32];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid / 32;
  const T* in = static_cast<const T*>(a.in);
  for (int64_t seg = blockIdx.x; seg < a.segments; seg += gridDim.x) {
    const int64_t r = seg / a.groups_per_row, gi = seg - r * a.groups_per_row;
    const int64_t off = r * a.cols + gi * a.group;
    const int64_t len = min(a.group, a.cols - gi * a.group);
    // Runs of up to RU·kThreads·VEC elements stay in registers: one read, and the writes need no
    // second load (bf16 [32768, 8192] re-read each row from L2 at 75% of copy bandwidth, 91% so).
    // RU is 2 when that covers the run: with 4, fp16 rows of 4096 carried unused registers and
    // fell from 84% to 78%.
    if (len <= static_cast<int64_t>(RU) * kThreads * VEC) {
      float v[RU][VEC];
#pragma unroll
      for (int u = 0; u < RU; ++u) {
        const int64_t e = (static_cast<int64_t>(u) * kThreads + tid) * VEC;
        if (e < len) load_floats<T, VEC>(in + off + e, v[u]);
      }
      Range rg{INFINITY, -INFINITY, 0.f};
#pragma unroll
      for (int u = 0; u < RU; ++u) {
        if ((static_cast<int64_t>(u) * kThreads + tid) * VEC >= len) continue;
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          rg.mn = fminf(rg.mn, v[u][j]);
          rg.mx = fmaxf(rg.mx, v[u][j]);
          rg.am = fmaxf(rg.am, fabsf(v[u][j]));
        }
      }
      block_range(rg, red, lane, warp);
      float s, z;
      scale_zero(a, rg, &s, &z);
#pragma unroll
      for (int u = 0; u < RU; ++u) {
        const int64_t e = (static_cast<int64_t>(u) * kThreads + tid) * VEC;
        if (e < len) write_segment_part<T, VEC, OP>(a, off + e, v[u], s, z);
      }
      if (tid == 0) {
        if (a.scale_out) a.scale_out[seg] = s;
        if (a.zero_out) a.zero_out[seg] = static_cast<int32_t>(z);
      }
      continue;
    }
    Range rg{INFINITY, -INFINITY, 0.f};
    constexpr int U = 2;
    int64_t e = static_cast<int64_t>(tid) * VEC;
    for (; e + (U - 1) * kThreads * VEC < len; e += U * kThreads * VEC) {
      float v[U][VEC];
#pragma unroll
      for (int u = 0; u < U; ++u) load_floats<T, VEC>(in + off + e + u * kThreads * VEC, v[u]);
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          rg.mn = fminf(rg.mn, v[u][j]);
          rg.mx = fmaxf(rg.mx, v[u][j]);
          rg.am = fmaxf(rg.am, fabsf(v[u][j]));
        }
    }
    for (; e < len; e += kThreads * VEC) {
      float v[VEC];
      load_floats<T, VEC>(in + off + e, v);
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        rg.mn = fminf(rg.mn, v[j]);
        rg.mx = fmaxf(rg.mx, v[j]);
        rg.am = fmaxf(rg.am, fabsf(v[j]));
      }
    }
    block_range(rg, red, lane, warp);
    float s, z;
    scale_zero(a, rg, &s, &z);
    if constexpr (OP != kOpParams) {
      for (int64_t e2 = static_cast<int64_t>(tid) * VEC; e2 < len; e2 += kThreads * VEC) {
        float v[VEC];
        load_floats<T, VEC>(in + off + e2, v);
        write_segment_part<T, VEC, OP>(a, off + e2, v, s, z);
      }
    }
    if (tid == 0) {
      if (a.scale_out) a.scale_out[seg] = s;
      if (a.zero_out) a.zero_out[seg] = static_cast<int32_t>(z);
    }
  }
}

template <typename T, int VEC, int OP, bool ONE>
Status launch_apply_kernel(const ApplyArgs& a, cudaStream_t stream) {
  const int64_t gx = detail::ceil_div(a.cols / VEC, kThreads);
  const int64_t resident = resident_blocks(apply_kernel<T, VEC, OP, ONE>, kThreads);
  const int64_t gy = std::clamp<int64_t>(resident / gx, 1, std::min<int64_t>(a.rows, 65535));
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  apply_kernel<T, VEC, OP, ONE><<<grid, kThreads, 0, stream>>>(a, detail::ceil_div(a.rows, gy));
  QK_CHECK_LAUNCH();
  return Status{};
}

template <typename T, int VEC, int OP>
Status launch_apply_op(const ApplyArgs& a, cudaStream_t stream) {
  if (a.group % VEC == 0) return launch_apply_kernel<T, VEC, OP, true>(a, stream);
  return launch_apply_kernel<T, VEC, OP, false>(a, stream);
}

template <typename T, int VEC>
Status launch_apply_vec(const QuantApplyParams& p, cudaStream_t stream) {
  const bool sym = p.zero == nullptr;
  ApplyArgs a{p.in, p.out, p.rows, p.cols, p.scale, p.zero, p.group, p.scale_row_stride,
              qm::qmin(p.bits, sym), qm::qmax(p.bits, sym)};
  switch (p.op) {
    case QuantOp::Fake: return launch_apply_op<T, VEC, kOpFake>(a, stream);
    case QuantOp::Quantize: return launch_apply_op<T, VEC, kOpQuantize>(a, stream);
    case QuantOp::Dequantize: return launch_apply_op<T, VEC, kOpDequantize>(a, stream);
    default: return invalid("quant_apply: op must be Fake, Quantize or Dequantize");
  }
}

// T: the floating-point side (input of Fake/Quantize, output of Dequantize). Quantize and
// Dequantize move 16 elements per thread so that the int8 side is a 16-byte access too: with 8 the
// byte side was an 8-byte access and fp16 dequantize ran at 43% of copy bandwidth.
template <typename T>
Status launch_apply(const QuantApplyParams& p, cudaStream_t stream) {
  if (p.rows == 0 || p.cols == 0) return Status{};
  if (p.op != QuantOp::Fake && p.cols % 16 == 0 && detail::aligned16(p.in) && detail::aligned16(p.out))
    return launch_apply_vec<T, 16>(p, stream);
  constexpr int V = 16 / sizeof(T);
  const void* fp = p.op == QuantOp::Dequantize ? p.out : p.in;
  const void* qp = p.op == QuantOp::Dequantize ? p.in : p.out;
  const bool q_ok = p.op == QuantOp::Fake || (reinterpret_cast<uintptr_t>(qp) % V == 0);
  if (p.cols % V == 0 && detail::aligned16(fp) && detail::aligned16(p.op == QuantOp::Fake ? p.out : fp) && q_ok)
    return launch_apply_vec<T, V>(p, stream);
  return launch_apply_vec<T, 1>(p, stream);
}

template <typename T, int VEC>
Status launch_dynamic_vec(const QuantDynamicParams& p, cudaStream_t stream) {
  const int64_t gpr = detail::ceil_div(p.cols, p.group);
  DynArgs a{p.in, p.out, p.rows, p.cols, p.group, gpr, p.rows * gpr, p.bits, p.symmetric, p.clip,
            qm::qmin(p.bits, p.symmetric), qm::qmax(p.bits, p.symmetric), p.scale_out, p.zero_out, 1};
  const int64_t vecs = detail::ceil_div(p.group, VEC);
  if (vecs <= 32) {
    int lps = 1;
    while (lps < vecs) lps *= 2;
    a.lps = lps;
    auto launch = [&](auto kernel) {
      const int64_t blocks = std::clamp<int64_t>(detail::ceil_div(a.segments * lps, kThreads), 1, resident_blocks(kernel, kThreads));
      kernel<<<blocks, kThreads, 0, stream>>>(a);
    };
    switch (p.op) {
      case QuantOp::Fake: launch(dyn_warp_kernel<T, VEC, kOpFake>); break;
      case QuantOp::Quantize: launch(dyn_warp_kernel<T, VEC, kOpQuantize>); break;
      case QuantOp::ParamsOnly: launch(dyn_warp_kernel<T, VEC, kOpParams>); break;
      default: return invalid("quant_dynamic: op must be Fake, Quantize or ParamsOnly");
    }
  } else {
    // One wave of resident blocks, each walking runs (was 8 per SM, of which 4 fit at 64 registers).
    auto launch = [&](auto kernel) {
      const int64_t blocks = std::clamp<int64_t>(a.segments, 1, resident_blocks(kernel, kThreads));
      kernel<<<blocks, kThreads, 0, stream>>>(a);
    };
    const bool two = a.group <= 2LL * kThreads * VEC;
    switch (p.op) {
      case QuantOp::Fake: two ? launch(dyn_block_kernel<T, VEC, kOpFake, 2>) : launch(dyn_block_kernel<T, VEC, kOpFake, 4>); break;
      case QuantOp::Quantize:
        two ? launch(dyn_block_kernel<T, VEC, kOpQuantize, 2>) : launch(dyn_block_kernel<T, VEC, kOpQuantize, 4>);
        break;
      case QuantOp::ParamsOnly:
        two ? launch(dyn_block_kernel<T, VEC, kOpParams, 2>) : launch(dyn_block_kernel<T, VEC, kOpParams, 4>);
        break;
      default: return invalid("quant_dynamic: op must be Fake, Quantize or ParamsOnly");
    }
  }
  QK_CHECK_LAUNCH();
  return Status{};
}

template <typename T>
Status launch_dynamic(const QuantDynamicParams& p, cudaStream_t stream) {
  if (p.rows == 0 || p.cols == 0) return Status{};
  // Short runs (≤ 512 elements, e.g. groups of 128) take 16 elements per lane: twice the bytes in
  // flight per lane at the same occupancy (with 8, fp16 groups of 128 ran at 69% of copy bandwidth).
  if (p.cols % 16 == 0 && p.group % 16 == 0 && p.group <= 16 * 32 && detail::aligned16(p.in) &&
      (p.op == QuantOp::ParamsOnly || detail::aligned16(p.out)))
    return launch_dynamic_vec<T, 16>(p, stream);
  constexpr int V = 16 / sizeof(T);
  bool vec = p.cols % V == 0 && p.group % V == 0 && detail::aligned16(p.in);
  if (p.op == QuantOp::Fake) vec = vec && detail::aligned16(p.out);
  if (p.op == QuantOp::Quantize) vec = vec && reinterpret_cast<uintptr_t>(p.out) % V == 0;
  return vec ? launch_dynamic_vec<T, V>(p, stream) : launch_dynamic_vec<T, 1>(p, stream);
}

}  // namespace quench::kernels::quant_detail
