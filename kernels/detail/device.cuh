#pragma once
// Device-side helpers shared by the kernels: launch checks, element conversions and aligned
// vector access. Internal to kernels/ (never included by core).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/status.h"

namespace quench::kernels::detail {

inline Status cuda_status(cudaError_t e) {
  if (e == cudaSuccess) return Status{};
  return Status{StatusCode::CudaError, static_cast<int>(e), cudaGetErrorString(e)};
}

// After every launch: a bad configuration or an earlier asynchronous fault surfaces here.
inline Status launch_status() { return cuda_status(cudaGetLastError()); }

#define QK_TRY_CUDA(expr)                                         \
  do {                                                            \
    ::quench::kernels::Status qk_s_ = ::quench::kernels::detail::cuda_status(expr); \
    if (!qk_s_.ok()) return qk_s_;                                \
  } while (0)

#define QK_CHECK_LAUNCH()                                         \
  do {                                                            \
    ::quench::kernels::Status qk_s_ = ::quench::kernels::detail::launch_status(); \
    if (!qk_s_.ok()) return qk_s_;                                \
  } while (0)

// Multiprocessor count of the current device, looked up once per device (grids are sized from it).
int sm_count();
// Largest dynamic shared memory a block may opt into on the current device.
int max_smem_optin();

template <typename T> __device__ __forceinline__ float to_float(T v);
template <> __device__ __forceinline__ float to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float to_float<int8_t>(int8_t v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float to_float<uint8_t>(uint8_t v) { return static_cast<float>(v); }

template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
// Integer targets only ever receive values already rounded and clamped into range.
template <> __device__ __forceinline__ int8_t from_float<int8_t>(float v) { return static_cast<int8_t>(__float2int_rn(v)); }
template <> __device__ __forceinline__ uint8_t from_float<uint8_t>(float v) { return static_cast<uint8_t>(__float2int_rn(v)); }

// N elements of T moved as one aligned unit: 16-byte accesses are what lets a warp keep enough
// bytes in flight to approach the copy bandwidth on Hopper.
template <typename T, int N>
struct alignas(sizeof(T) * N >= 16 ? 16 : sizeof(T) * N) Pack {
  T v[N];
};

// Half types travel as 32-bit words assembled with integer ops. Writing the elements of a Pack one
// by one and storing the Pack let the compiler split some 16-byte stores into 2-byte ones (seen in
// the PTX of fp16 dequantize: half of each thread's output went out as st.global.u16).
template <typename T> __device__ __forceinline__ float lo16(uint32_t w);
template <typename T> __device__ __forceinline__ float hi16(uint32_t w);
template <> __device__ __forceinline__ float lo16<__half>(uint32_t w) { return __half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu))); }
template <> __device__ __forceinline__ float hi16<__half>(uint32_t w) { return __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16))); }
// bf16 is the top half of a float32: widening is a shift.
template <> __device__ __forceinline__ float lo16<__nv_bfloat16>(uint32_t w) { return __uint_as_float(w << 16); }
template <> __device__ __forceinline__ float hi16<__nv_bfloat16>(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

template <typename T> constexpr bool kHalfType = sizeof(T) == 2;

// Pairs convert with one packed instruction (cvt.rn.f16x2.f32 / .bf16x2), the same rounding as
// two __float2half_rn / __float2bfloat16_rn.
template <typename T> __device__ __forceinline__ uint32_t bits16x2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t bits16x2<__half>(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <> __device__ __forceinline__ uint32_t bits16x2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// Word k of N floats as T (two halves per word for 16-bit T, one float for float).
template <typename T, int N>
__device__ __forceinline__ uint32_t word_of(const float (&in)[N], int k) {
  if constexpr (kHalfType<T>) return bits16x2<T>(in[2 * k], in[2 * k + 1]);
  else return __float_as_uint(in[k]);
}
template <typename T, int N>
__device__ __forceinline__ void unword(uint32_t w, float (&out)[N], int k) {
  if constexpr (kHalfType<T>) {
    out[2 * k] = lo16<T>(w);
    out[2 * k + 1] = hi16<T>(w);
  } else {
    out[k] = __uint_as_float(w);
  }
}

template <typename T, int N>
__device__ __forceinline__ void load_floats(const T* __restrict__ p, float (&out)[N]) {
  constexpr int kBytes = static_cast<int>(sizeof(T)) * N;
  if constexpr (N == 1) {
    out[0] = to_float(p[0]);
  } else if constexpr (kBytes % 16 == 0) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      const uint4 w = *reinterpret_cast<const uint4*>(reinterpret_cast<const char*>(p) + 16 * i);
      float part[16 / sizeof(T)];
      unword<T>(w.x, part, 0);
      unword<T>(w.y, part, 1);
      unword<T>(w.z, part, 2);
      unword<T>(w.w, part, 3);
#pragma unroll
      for (int j = 0; j < static_cast<int>(16 / sizeof(T)); ++j) out[i * (16 / sizeof(T)) + j] = part[j];
    }
  } else if constexpr (kBytes == 8) {
    const uint2 w = *reinterpret_cast<const uint2*>(p);
    unword<T>(w.x, out, 0);
    unword<T>(w.y, out, 1);
  } else if constexpr (kBytes == 4) {
    unword<T>(*reinterpret_cast<const uint32_t*>(p), out, 0);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) out[j] = to_float(p[j]);
  }
}

template <typename T, int N>
__device__ __forceinline__ void store_floats(T* __restrict__ p, const float (&in)[N]) {
  constexpr int kBytes = static_cast<int>(sizeof(T)) * N;
  if constexpr (N == 1) {
    p[0] = from_float<T>(in[0]);
  } else if constexpr (kBytes % 16 == 0) {
    constexpr int kPer16 = 16 / sizeof(T);
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      float part[kPer16];
#pragma unroll
      for (int j = 0; j < kPer16; ++j) part[j] = in[i * kPer16 + j];
      *reinterpret_cast<uint4*>(reinterpret_cast<char*>(p) + 16 * i) =
          make_uint4(word_of<T>(part, 0), word_of<T>(part, 1), word_of<T>(part, 2), word_of<T>(part, 3));
    }
  } else if constexpr (kBytes == 8) {
    *reinterpret_cast<uint2*>(p) = make_uint2(word_of<T>(in, 0), word_of<T>(in, 1));
  } else if constexpr (kBytes == 4) {
    *reinterpret_cast<uint32_t*>(p) = word_of<T>(in, 0);
  } else {
#pragma unroll
    for (int j = 0; j < N; ++j) p[j] = from_float<T>(in[j]);
  }
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace quench::kernels::detail
