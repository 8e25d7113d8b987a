// W4A16 for few rows: each warp owns kRowsPerWarp output columns n and walks k in tiles; each lane
// takes 32 consecutive k of every owned n per tile (one 16-byte load per n), so a tile of x
// (staged in shared memory, all m rows) is read once per warp for kRowsPerWarp weights rows.
// The 32 weights of a lane lie in one group (group is a multiple of 32), so one scale and zero per
// (n, lane, tile). Partial sums are reduced across the warp at the end.
#pragma once
#include "kernels/detail/device.cuh"
#include "kernels/w4a16.h"

namespace quench::kernels::w4a16_detail {

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 4;
constexpr int kTile = 1024;  // k per tile: 32 lanes × 32 weights
// Each lane's 32 values of a tile row sit 40 apart in shared memory: with 32 apart, the 16-byte
// reads of lanes l and l + 2 fell on the same banks (4-way conflicts); 80 bytes apart, a quarter
// warp's eight reads cover all 32 banks once.
constexpr int kLaneStride = 40;
constexpr int kRowStride = 32 * kLaneStride;

// The owned rows' weights for one tile: four words (32 values) each, with their scale and zero.
struct TileWeights {
  uint4 q[kRowsPerWarp];
  float scale[kRowsPerWarp], zero[kRowsPerWarp];
};

__device__ __forceinline__ void load_tile(const W4A16Params& p, int64_t n0, int64_t k, int64_t words, int64_t groups, TileWeights& t) {
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t n = n0 + r;
    if (n < p.n && k < p.k) {
      t.q[r] = __ldg(reinterpret_cast<const uint4*>(p.qweight + n * words + k / 8));
      const int64_t g = n * groups + k / p.group;
      t.scale[r] = __ldg(p.scale + g);
      t.zero[r] = 8388608.f + (p.zero ? static_cast<float>(__ldg(p.zero + g)) : 8.f);  // 2^23 + zero
    } else {
      t.q[r] = make_uint4(0, 0, 0, 0);
      t.scale[r] = 0.f;
      t.zero[r] = 0.f;
    }
  }
}

template <typename T, int M>
__global__ void __launch_bounds__(kWarps * 32) w4a16_kernel(W4A16Params p) {
  __shared__ __align__(16) T xs[M * kRowStride];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const int64_t words = p.k / 8, groups = (p.k + p.group - 1) / p.group;
  const T* x = static_cast<const T*>(p.x);
  const int64_t kl = static_cast<int64_t>(lane) * 32;  // this lane's first k in a tile
  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.f;

  // Few rows: the next tile's weights are requested before this tile's arithmetic, so their
  // latency hides behind it instead of opening every tile. Many rows have arithmetic enough to
  // hide it, and fewer registers to spare (16 rows spilled; 4 rows fitted one block per SM).
  constexpr bool kPrefetch = M <= 2;
  TileWeights cur, next;
  if constexpr (kPrefetch) load_tile(p, n0, kl, words, groups, cur);
  for (int64_t k0 = 0; k0 < p.k; k0 += kTile) {
    const int64_t width = p.k - k0 < kTile ? p.k - k0 : kTile;  // a multiple of 32
    // Stage x[:, k0 : k0 + width) (rows past m are zeros) in 16-byte units.
    __syncthreads();
    const int units = M * kTile / 8;
    for (int u = threadIdx.x; u < units; u += kWarps * 32) {
      const int m = u / (kTile / 8), c = (u % (kTile / 8)) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m < p.m && c < width) v = *reinterpret_cast<const uint4*>(x + m * p.k + k0 + c);
      *reinterpret_cast<uint4*>(xs + m * kRowStride + (c / 32) * kLaneStride + c % 32) = v;
    }
    __syncthreads();
    if constexpr (kPrefetch) load_tile(p, n0, k0 + kTile + kl, words, groups, next);
    else load_tile(p, n0, k0 + kl, words, groups, cur);
    if (kl < width) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        float w[kRowsPerWarp][8];
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const uint32_t word = j == 0 ? cur.q[r].x : j == 1 ? cur.q[r].y : j == 2 ? cur.q[r].z : cur.q[r].w;
#pragma unroll
          // 2^23 + u read as a float (no integer conversion: I2F is quarter rate and was the
          // kernel's bottleneck), minus 2^23 + zero: u − zero exactly, then one rounding by the scale.
          for (int e = 0; e < 8; ++e)
            w[r][e] = __fmul_rn(__fsub_rn(__uint_as_float(0x4B000000u | ((word >> (4 * e)) & 15u)), cur.zero[r]), cur.scale[r]);
        }
#pragma unroll
        for (int m = 0; m < M; ++m) {
          const uint4 xv = *reinterpret_cast<const uint4*>(xs + m * kRowStride + lane * kLaneStride + j * 8);
          const uint32_t xw[4] = {xv.x, xv.y, xv.z, xv.w};
          float xf[8];
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            xf[2 * e] = detail::lo16<T>(xw[e]);
            xf[2 * e + 1] = detail::hi16<T>(xw[e]);
          }
#pragma unroll
          for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[r][m] = fmaf(w[r][e], xf[e], acc[r][m]);
        }
      }
    }
    if constexpr (kPrefetch) cur = next;
  }
  T* y = static_cast<T*>(p.y);
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0 && m < p.m && n0 + r < p.n) y[m * p.n + n0 + r] = detail::from_float<T>(v);
    }
}

template <typename T, int M>
Status launch_m(const W4A16Params& p, cudaStream_t stream) {
  const int64_t per_block = static_cast<int64_t>(kWarps) * kRowsPerWarp;
  const int64_t blocks = (p.n + per_block - 1) / per_block;
  if (blocks > 0x7fffffffLL) return unsupported("w4a16: n too large for one launch");
  w4a16_kernel<T, M><<<static_cast<unsigned>(blocks), kWarps * 32, 0, stream>>>(p);
  return detail::launch_status();
}

// Rows of x rounded up to the next instantiated count.
template <typename T>
Status launch_w4a16(const W4A16Params& p, cudaStream_t stream) {
  if (p.m <= 1) return launch_m<T, 1>(p, stream);
  if (p.m <= 2) return launch_m<T, 2>(p, stream);
  if (p.m <= 4) return launch_m<T, 4>(p, stream);
  if (p.m <= 8) return launch_m<T, 8>(p, stream);
  return launch_m<T, 16>(p, stream);
}

}  // namespace quench::kernels::w4a16_detail
