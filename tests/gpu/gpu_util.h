#pragma once
// Helpers for the GPU tests: skipping without CUDA (the binary must still list its tests on CI's
// GPU-less machine, since gtest_discover_tests runs it at build time), error norms, poisoning.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#define QUENCH_REQUIRE_CUDA()                                    \
  do {                                                           \
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";        \
  } while (0)

namespace quench::gpu_test {

inline at::TensorOptions cuda(at::ScalarType t = at::kFloat) { return at::TensorOptions().device(at::kCUDA).dtype(t); }

// ‖a − b‖ / ‖b‖ in float64; NaN anywhere gives NaN (which fails every bound).
inline double rel_fro(const at::Tensor& a, const at::Tensor& b) {
  const auto ad = a.to(at::kCPU, at::kDouble), bd = b.to(at::kCPU, at::kDouble);
  const double num = (ad - bd).norm().item<double>(), den = bd.norm().item<double>();
  return num / (den > 0 ? den : 1.0);
}

inline bool all_finite(const at::Tensor& t) { return at::isfinite(t.to(at::kCPU, at::kFloat)).all().item<bool>(); }

// The GPU result must be as close to the float64 truth as the CPU reference of the same precision
// is, within `factor`, plus `floor` for results whose reference error is ~0. NaN never passes.
inline void expect_like_reference(const at::Tensor& gpu, const at::Tensor& cpu_ref, const at::Tensor& truth, double factor, double floor,
                                  const std::string& what) {
  const double eg = rel_fro(gpu, truth), ec = rel_fro(cpu_ref, truth);
  EXPECT_TRUE(eg <= factor * ec + floor) << what << ": GPU error " << eg << " vs CPU reference error " << ec;
}

inline at::Tensor poisoned(at::IntArrayRef sizes, at::TensorOptions o) {
  if (at::isFloatingType(o.dtype().toScalarType())) return at::full(sizes, std::numeric_limits<double>::quiet_NaN(), o);
  return at::full(sizes, -77, o);
}

}  // namespace quench::gpu_test
