#pragma once
// Power-of-two Hadamard for n = 2^11 .. 2^14 with the row in registers: 64 elements per thread,
// n/64 threads per row, shared-memory transposes between rounds of in-thread butterflies.
// n = 2^11 and 2^12 (hadamard_regs_kernel):
//
// Index bits of an element of a row, for P = log2(n) - 6:
//   b0..b2        the 8 elements of one 16-byte fp16 vector (32 bytes for fp32)
//   b3..b(2+P)    "middle": which thread loaded it
//   b(3+P)..      "top" (3 bits): which of the thread's 8 vectors
//   1. each thread loads 8 vectors (all loads in flight before the first use) and butterflies the
//      6 bits it holds (b0..b2 and the top bits) in registers;
//   2. parks them in shared memory as float32; each thread then reads 64 elements that differ
//      only in the middle bits and butterflies those (P bits, 64/2^P columns per thread);
//   3. scales, converts to T and parks the result; threads read it back as 16-byte vectors in the
//      layout of step 1 and store them.
// Shared-memory traffic per element: 4 + 4 bytes (float32 image) + 2 + 2 (fp16 image) with no bank
// conflicts, against 8 float32 accesses and 4 shuffles per element in the staged kernel (impl.cuh),
// whose shared-memory datapath time (~70 µs for 16384 × 4096 fp16) did not hide under the DRAM time.
#include "kernels/detail/device.cuh"
#include "kernels/hadamard.h"

namespace quench::kernels::hadamard_detail {

constexpr int kRegThreads = 128;

// Butterflies over bits [B0, B1) of the register index.
template <int N, int B0, int B1>
__device__ __forceinline__ void butterfly_bits(float (&v)[N]) {
#pragma unroll
  for (int b = B0; b < B1; ++b)
#pragma unroll
    for (int i = 0; i < N; ++i)
      if (!(i & (1 << b))) {
        const float a = v[i], c = v[i + (1 << b)];
        v[i] = a + c;
        v[i + (1 << b)] = a - c;
      }
}

// Swizzles (element index → shared-memory slot within a row). XOR-ing bits 3 and 4 with the low
// top bits puts the four vectors that phase 2's lanes read at the same middle index into distinct
// banks; XOR-ing bit 2 with bit 5 (float image only) splits phase 1's 32-byte-strided float4
// stores over all banks. Both keep 4-float (float image) or 8-half (half image) vectors whole.
template <int P>
__device__ __forceinline__ int sw_float(int i) {
  return i ^ (((i >> 5) & 1) << 2) ^ (((i >> (3 + P)) & 3) << 3);
}
template <int P>
__device__ __forceinline__ int sw_half(int i) {
  return i ^ (((i >> (3 + P)) & 3) << 3);
}

template <typename T, int LOGN>
// x and out may be one buffer: a block reads all of its rows before it writes any.
__global__ void __launch_bounds__(kRegThreads) hadamard_regs_kernel(const T* x, T* out, int64_t rows,
                                                                     float scale) {
  constexpr int N = 1 << LOGN, P = LOGN - 6, TPR = 1 << P, RPB = kRegThreads / TPR, G = 64 / TPR;
  static_assert(P >= 5 && P <= 6, "one warp or more per row");
  extern __shared__ __align__(16) float smem[];
  const int t = threadIdx.x % TPR, rl = threadIdx.x / TPR;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * RPB + rl;
  const bool valid = row < rows;
  float* s = smem + rl * N;

  float v[64];
  if (valid) {
    const T* src = x + row * N;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      float p[8];
      detail::load_floats<T, 8>(src + (j * TPR + t) * 8, p);
#pragma unroll
      for (int e = 0; e < 8; ++e) v[j * 8 + e] = p[e];
    }
  } else {
#pragma unroll
    for (int i = 0; i < 64; ++i) v[i] = 0.f;
  }
  butterfly_bits<64, 0, 6>(v);
#pragma unroll
  for (int j = 0; j < 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int i = (j * TPR + t) * 8 + h * 4;
      *reinterpret_cast<float4*>(s + sw_float<P>(i)) = make_float4(v[j * 8 + h * 4], v[j * 8 + h * 4 + 1], v[j * 8 + h * 4 + 2], v[j * 8 + h * 4 + 3]);
    }
  __syncthreads();

  // Phase 2: column o = g·TPR + t (o = e + 8·j), its TPR middle elements at v[g·TPR + k].
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const int o = g * TPR + t, base = ((o >> 3) << (3 + P)) | (o & 7);
#pragma unroll
    for (int k = 0; k < TPR; ++k) v[g * TPR + k] = s[sw_float<P>(base | (k << 3))];
  }
  butterfly_bits<64, 0, P>(v);
  __syncthreads();  // every thread has read the float image before it is overwritten

  T* img = reinterpret_cast<T*>(s);
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const int o = g * TPR + t, base = ((o >> 3) << (3 + P)) | (o & 7);
#pragma unroll
    for (int k = 0; k < TPR; ++k) {
      const int i = base | (k << 3);
      img[sizeof(T) == 2 ? sw_half<P>(i) : sw_float<P>(i)] = detail::from_float<T>(v[g * TPR + k] * scale);
    }
  }
  __syncthreads();

  if (valid) {
    T* dst = out + row * N;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int i = (j * TPR + t) * 8;
      if constexpr (sizeof(T) == 2) {
        *reinterpret_cast<uint4*>(dst + i) = *reinterpret_cast<const uint4*>(img + sw_half<P>(i));
      } else {
        *reinterpret_cast<float4*>(dst + i) = *reinterpret_cast<const float4*>(img + sw_float<P>(i));
        *reinterpret_cast<float4*>(dst + i + 4) = *reinterpret_cast<const float4*>(img + sw_float<P>(i + 4));
      }
    }
  }
}

// n = 2^13 and 2^14: the same first round, then three more bit sets, all with 64 elements a thread
// and n/64 threads a row (one row a block):
//   1. registers hold b0..b2 and the top 3 bits (loaded as 8 vectors), as above;
//   2. after a float32 transpose: b3..b8 (threads: b0..b2 and b9 up), rewritten in place;
//   3. after a barrier: vectors b0..b2 at the 8 values of b9..b11 (threads: b3..b8 and b12 up);
//      butterflies over b9..b(LOGN-4), the middle bits left, then 16-byte stores straight from
//      registers (lanes run over b3..b7: consecutive vectors).
// One padding serves all three layouts without bank conflicts: 8 floats after every 512 (phase 2's
// lanes differ in b9-b10) and 4 after every 32 (phases 1 and 3 move float4s 32 bytes apart). Unlike
// an XOR swizzle it keeps each thread's 64 addresses at compile-time offsets from one base: with
// the XOR form the kernel held its addresses in 140 registers (1 block of 256 threads per SM).
// Additive over disjoint bit fields (no carry out of the low 5 or 9 bits), so a thread's addresses
// split into pad3(its base) + pad3(a compile-time part).
__host__ __device__ constexpr int pad3(int i) { return i + ((i >> 5) << 2) + ((i >> 9) << 3); }
template <int N>
constexpr int kPadded3 = N + N / 8 + N / 64;

template <typename T, int LOGN>
// x and out may be one buffer: a block reads all of its row before it writes any.
__global__ void __launch_bounds__(1 << (LOGN - 6)) hadamard_regs3_kernel(const T* x, T* out, float scale) {
  constexpr int N = 1 << LOGN, P = LOGN - 6, TPR = 1 << P;
  static_assert(P == 7 || P == 8, "n = 8192 or 16384");
  extern __shared__ __align__(16) float s[];
  const int t = threadIdx.x;
  const int64_t row = blockIdx.x;

  float v[64];
  const T* src = x + row * N;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    float p[8];
    detail::load_floats<T, 8>(src + (j * TPR + t) * 8, p);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[j * 8 + e] = p[e];
  }
  butterfly_bits<64, 0, 6>(v);
  const int p1 = pad3(t * 8);
#pragma unroll
  for (int j = 0; j < 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      *reinterpret_cast<float4*>(s + p1 + pad3(j * TPR * 8 + h * 4)) =
          make_float4(v[j * 8 + h * 4], v[j * 8 + h * 4 + 1], v[j * 8 + h * 4 + 2], v[j * 8 + h * 4 + 3]);
    }
  __syncthreads();

  {  // Phase 2: thread t = e + 8·rest holds i = rest·2^9 + k·8 + e for k < 64.
    float* p2 = s + pad3(((t >> 3) << 9) | (t & 7));
#pragma unroll
    for (int k = 0; k < 64; ++k) v[k] = p2[pad3(k << 3)];
    butterfly_bits<64, 0, 6>(v);
#pragma unroll
    for (int k = 0; k < 64; ++k) p2[pad3(k << 3)] = v[k];
  }
  __syncthreads();

  // Phase 3: thread t = m + 64·hi holds i = hi·2^12 + w·2^9 + m·8 + e, at v[w·8 + e].
  const int base = ((t >> 6) << 12) | ((t & 63) << 3), p3 = pad3(base);
#pragma unroll
  for (int w = 0; w < 8; ++w)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float4 q = *reinterpret_cast<const float4*>(s + p3 + pad3((w << 9) | (h * 4)));
      v[w * 8 + h * 4] = q.x, v[w * 8 + h * 4 + 1] = q.y, v[w * 8 + h * 4 + 2] = q.z, v[w * 8 + h * 4 + 3] = q.w;
    }
  butterfly_bits<64, 3, 3 + P - 6>(v);
  T* dst = out + row * N;
#pragma unroll
  for (int w = 0; w < 8; ++w) {
    float p[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) p[e] = v[w * 8 + e] * scale;
    detail::store_floats<T, 8>(dst + (base | (w << 9)), p);
  }
}

template <typename T, int LOGN>
Status launch_regs3(const HadamardParams& p, cudaStream_t stream) {
  constexpr int N = 1 << LOGN;
  const size_t smem = static_cast<size_t>(kPadded3<N>) * sizeof(float);
  if (smem > static_cast<size_t>(detail::max_smem_optin())) return unsupported("hadamard: n too large for shared memory");
  if (smem > 48 * 1024) QK_TRY_CUDA(cudaFuncSetAttribute(hadamard_regs3_kernel<T, LOGN>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  if (p.rows > 0x7fffffffLL) return unsupported("hadamard: too many rows for one launch");
  hadamard_regs3_kernel<T, LOGN><<<static_cast<unsigned>(p.rows), N / 64, smem, stream>>>(static_cast<const T*>(p.x), static_cast<T*>(p.out), p.scale);
  QK_CHECK_LAUNCH();
  return Status{};
}

// n = 2^11 .. 2^14 with 16-byte aligned rows. The caller takes these kernels for fp16 / bf16 only:
// float32 reaches 95% of copy bandwidth on the staged kernel, and here would need 153 registers.
inline bool regs_applies(int64_t n, bool aligned) { return (n == 2048 || n == 4096 || n == 8192 || n == 16384) && aligned; }

template <typename T, int LOGN>
Status launch_regs(const HadamardParams& p, cudaStream_t stream) {
  constexpr int N = 1 << LOGN, RPB = kRegThreads / (N / 64);
  const size_t smem = static_cast<size_t>(RPB) * N * sizeof(float);
  if (smem > 48 * 1024) QK_TRY_CUDA(cudaFuncSetAttribute(hadamard_regs_kernel<T, LOGN>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const int64_t blocks = detail::ceil_div(p.rows, RPB);
  if (blocks > 0x7fffffffLL) return unsupported("hadamard: too many rows for one launch");
  hadamard_regs_kernel<T, LOGN><<<static_cast<unsigned>(blocks), kRegThreads, smem, stream>>>(
      static_cast<const T*>(p.x), static_cast<T*>(p.out), p.rows, p.scale);
  QK_CHECK_LAUNCH();
  return Status{};
}

}  // namespace quench::kernels::hadamard_detail
