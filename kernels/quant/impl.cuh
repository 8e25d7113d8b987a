#pragma once
// Quantization kernels over a contiguous [rows, cols] tensor. Memory-bound: every variant reads the
// input once from DRAM and writes the output once, with 16-byte accesses where the layout allows.
#include <algorithm>

#include "kernels/detail/device.cuh"
#include "kernels/fake_quant.h"
#include "kernels/quant_math.h"

namespace quench::kernels::quant_detail {

using detail::load_floats;
using detail::store_floats;
namespace qm = qmath;

constexpr int kThreads = 256;
constexpr int kOpFake = static_cast<int>(QuantOp::Fake);
constexpr int kOpQuantize = static_cast<int>(QuantOp::Quantize);
constexpr int kOpDequantize = static_cast<int>(QuantOp::Dequantize);
constexpr int kOpParams = static_cast<int>(QuantOp::ParamsOnly);

// q leaves and enters as raw bytes: two's complement for symmetric (int8), plain for asymmetric (uint8).
template <int VEC>
__device__ __forceinline__ void load_q(const uint8_t* __restrict__ p, bool is_signed, float (&v)[VEC]) {
  detail::Pack<uint8_t, VEC> pk = *reinterpret_cast<const detail::Pack<uint8_t, VEC>*>(p);
#pragma unroll
  for (int j = 0; j < VEC; ++j) v[j] = is_signed ? static_cast<float>(static_cast<int8_t>(pk.v[j])) : static_cast<float>(pk.v[j]);
}
template <int VEC>
__device__ __forceinline__ void store_q(uint8_t* __restrict__ p, const float (&v)[VEC]) {
  detail::Pack<uint8_t, VEC> pk;
#pragma unroll
  for (int j = 0; j < VEC; ++j) pk.v[j] = static_cast<uint8_t>(__float2int_rn(v[j]));
  *reinterpret_cast<detail::Pack<uint8_t, VEC>*>(p) = pk;
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
// one wave of resident blocks, each streaming a contiguous band of rows four at a time (four
// loads in flight before the first is used). Measured on fp16 [65536, 4096]: rows strided by the
// grid height with eight in flight and a multi-wave grid fell from 79% to 50% of copy bandwidth.
template <typename T, int VEC, int OP>
__global__ void __launch_bounds__(kThreads) apply_kernel(ApplyArgs a, int64_t rows_per_block) {
  const int64_t c0 = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * VEC;
  if (c0 >= a.cols) return;
  const int64_t g0 = c0 / a.group, w0 = c0 - g0 * a.group;
  const bool is_signed = a.zero == nullptr;
  int64_t sidx[VEC];
  {
    int64_t g = g0, w = w0;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      sidx[j] = g;
      if (++w == a.group) w = 0, ++g;
    }
  }
  // Scales and zeros from L1 cost two loads per element if fetched per element: per-tensor and
  // per-column ones (srs = 0) are loaded once per thread, per-row and per-group ones once per row
  // when the vector sits inside one group.
  const bool one_group = a.group % VEC == 0;
  float s_pre[VEC], z_pre[VEC];
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    s_pre[j] = a.srs == 0 ? a.scale[sidx[j]] : 0.f;
    z_pre[j] = a.srs == 0 && a.zero ? static_cast<float>(a.zero[sidx[j]]) : 0.f;
  }
  constexpr int U = VEC > 8 ? 2 : 4;
  const int64_t r_begin = static_cast<int64_t>(blockIdx.y) * rows_per_block;
  const int64_t r_end = min(a.rows, r_begin + rows_per_block);
  for (int64_t r0 = r_begin; r0 < r_end; r0 += U) {
    float v[U][VEC];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t r = r0 + u;
      if (r < r_end) {
        const int64_t off = r * a.cols + c0;
        if constexpr (OP == kOpDequantize) load_q<VEC>(static_cast<const uint8_t*>(a.in) + off, is_signed, v[u]);
        else load_floats<T, VEC>(static_cast<const T*>(a.in) + off, v[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t r = r0 + u;
      if (r >= r_end) continue;
      const int64_t sb = r * a.srs;
      float s_row = 0.f, z_row = 0.f;
      if (a.srs != 0 && one_group) {
        s_row = a.scale[sb + sidx[0]];
        z_row = a.zero ? static_cast<float>(a.zero[sb + sidx[0]]) : 0.f;
      }
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float s, z;
        if (a.srs == 0) {
          s = s_pre[j], z = z_pre[j];
        } else if (one_group) {
          s = s_row, z = z_row;
        } else {
          s = a.scale[sb + sidx[j]];
          z = a.zero ? static_cast<float>(a.zero[sb + sidx[j]]) : 0.f;
        }
        if constexpr (OP == kOpFake) v[u][j] = qm::dequantize(qm::quantize(v[u][j], s, z, a.lo, a.hi), s, z);
        else if constexpr (OP == kOpQuantize) v[u][j] = qm::quantize(v[u][j], s, z, a.lo, a.hi);
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
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const float q = qm::quantize(v[j], s, z, a.lo, a.hi);
      v[j] = OP == kOpFake ? qm::dequantize(q, s, z) : q;
    }
    if constexpr (OP == kOpQuantize) store_q<VEC>(static_cast<uint8_t*>(a.out) + off, v);
    else store_floats<T, VEC>(static_cast<T*>(a.out) + off, v);
  }
}

// Short runs (at most 32 vectors, e.g. groups of 128): a power-of-two set of lanes per run, the
// run held in registers, reduced with shuffles; U run-sets per warp step. Measured on fp16 groups
// of 128: U = 1 at 32 registers (a full SM of warps) 72% of copy bandwidth; U = 4 on a 5-wave grid
// 56%, U = 2 on one wave 64%: here more resident warps beat more loads per warp.
template <typename T, int VEC, int OP>
__global__ void __launch_bounds__(kThreads) dyn_warp_kernel(DynArgs a) {
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

// Long runs (whole rows: per-token activations, per-channel weights): one block per run; the
// second pass re-reads the run, which the first pass has just brought into L1/L2, so DRAM still
// sees one read.
template <typename T, int VEC, int OP>
__global__ void __launch_bounds__(kThreads) dyn_block_kernel(DynArgs a) {
  __shared__ float red[3][kThreads / 32];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid / 32;
  const T* in = static_cast<const T*>(a.in);
  for (int64_t seg = blockIdx.x; seg < a.segments; seg += gridDim.x) {
    const int64_t r = seg / a.groups_per_row, gi = seg - r * a.groups_per_row;
    const int64_t off = r * a.cols + gi * a.group;
    const int64_t len = min(a.group, a.cols - gi * a.group);
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
    __syncthreads();  // red is reused by the next run
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

template <typename T, int VEC, int OP>
Status launch_apply_op(const ApplyArgs& a, cudaStream_t stream) {
  const int64_t gx = detail::ceil_div(a.cols / VEC, kThreads);
  const int64_t resident = resident_blocks(apply_kernel<T, VEC, OP>, kThreads);
  const int64_t gy = std::clamp<int64_t>(resident / gx, 1, std::min<int64_t>(a.rows, 65535));
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  apply_kernel<T, VEC, OP><<<grid, kThreads, 0, stream>>>(a, detail::ceil_div(a.rows, gy));
  QK_CHECK_LAUNCH();
  return Status{};
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
  const int64_t sms = detail::sm_count();
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
    const int64_t blocks = std::clamp<int64_t>(a.segments, 1, 8 * sms);
    switch (p.op) {
      case QuantOp::Fake: dyn_block_kernel<T, VEC, kOpFake><<<blocks, kThreads, 0, stream>>>(a); break;
      case QuantOp::Quantize: dyn_block_kernel<T, VEC, kOpQuantize><<<blocks, kThreads, 0, stream>>>(a); break;
      case QuantOp::ParamsOnly: dyn_block_kernel<T, VEC, kOpParams><<<blocks, kThreads, 0, stream>>>(a); break;
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
