#pragma once
// The quantization formulas, in one place for the CPU reference (core/ops/fake_quant.cpp) and the
// CUDA kernels, so both round the same floats the same way (IEEE division, round half to even).
// Plain C++ with host/device markers: no torch, no CUDA headers.
//   symmetric:  s = clip·max|x| / (2^(b-1) - 1),  q = clamp(round(x/s), -2^(b-1), 2^(b-1) - 1),  x̂ = s·q
//   asymmetric: s = (max - min) / (2^b - 1), z = round(-min/s), q = clamp(round(x/s) + z, 0, 2^b - 1), x̂ = s·(q - z)
// with [min, max] = clip·[min, max] widened to contain 0 (as GPTQ and compressed-tensors do: zero
// stays exact and z lands in [0, 2^b - 1]). A range of width 0 gets s = 1, so q = 0 round-trips.
#include <math.h>

#if defined(__CUDACC__)
#define QK_HD __host__ __device__ __forceinline__
#else
#define QK_HD inline
#endif

namespace quench::kernels::qmath {

QK_HD float qmin(int bits, bool symmetric) { return symmetric ? -static_cast<float>(1 << (bits - 1)) : 0.f; }
QK_HD float qmax(int bits, bool symmetric) {
  return symmetric ? static_cast<float>((1 << (bits - 1)) - 1) : static_cast<float>((1 << bits) - 1);
}

QK_HD float scale_symmetric(float absmax, int bits, float clip) {
  const float s = absmax * clip / qmax(bits, true);
  return s > 0.f ? s : 1.f;
}

QK_HD void scale_zero_asymmetric(float mn, float mx, int bits, float clip, float* scale, float* zero) {
  mn = fminf(mn * clip, 0.f);
  mx = fmaxf(mx * clip, 0.f);
  const float hi = qmax(bits, false);
  float s = (mx - mn) / hi;
  if (!(s > 0.f)) s = 1.f;
  *scale = s;
  *zero = fminf(fmaxf(rintf(-mn / s), 0.f), hi);
}

// q as a float holding an integer in [lo, hi]; zero is 0 for symmetric.
QK_HD float quantize(float x, float scale, float zero, float lo, float hi) {
  return fminf(fmaxf(rintf(x / scale) + zero, lo), hi);
}

QK_HD float dequantize(float q, float scale, float zero) { return (q - zero) * scale; }

}  // namespace quench::kernels::qmath
