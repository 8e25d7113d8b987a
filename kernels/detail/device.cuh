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

template <typename T, int N>
__device__ __forceinline__ void load_floats(const T* __restrict__ p, float (&out)[N]) {
  if constexpr (sizeof(T) * N >= 16 && (sizeof(T) * N) % 16 == 0) {
    constexpr int kPer16 = 16 / sizeof(T);
#pragma unroll
    for (int i = 0; i < N / kPer16; ++i) {
      Pack<T, kPer16> pk = *reinterpret_cast<const Pack<T, kPer16>*>(p + i * kPer16);
#pragma unroll
      for (int j = 0; j < kPer16; ++j) out[i * kPer16 + j] = to_float(pk.v[j]);
    }
  } else if constexpr (N == 1) {
    out[0] = to_float(p[0]);
  } else {
    Pack<T, N> pk = *reinterpret_cast<const Pack<T, N>*>(p);
#pragma unroll
    for (int j = 0; j < N; ++j) out[j] = to_float(pk.v[j]);
  }
}

template <typename T, int N>
__device__ __forceinline__ void store_floats(T* __restrict__ p, const float (&in)[N]) {
  if constexpr (sizeof(T) * N >= 16 && (sizeof(T) * N) % 16 == 0) {
    constexpr int kPer16 = 16 / sizeof(T);
#pragma unroll
    for (int i = 0; i < N / kPer16; ++i) {
      Pack<T, kPer16> pk;
#pragma unroll
      for (int j = 0; j < kPer16; ++j) pk.v[j] = from_float<T>(in[i * kPer16 + j]);
      *reinterpret_cast<Pack<T, kPer16>*>(p + i * kPer16) = pk;
    }
  } else if constexpr (N == 1) {
    p[0] = from_float<T>(in[0]);
  } else {
    Pack<T, N> pk;
#pragma unroll
    for (int j = 0; j < N; ++j) pk.v[j] = from_float<T>(in[j]);
    *reinterpret_cast<Pack<T, N>*>(p) = pk;
  }
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace quench::kernels::detail
