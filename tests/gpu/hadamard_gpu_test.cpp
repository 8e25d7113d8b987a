// Hadamard kernel against the float64 product x·H(n)ᵀ, bounded by the CPU float32 reference's
// own error (both then round to the output dtype).
#include <gtest/gtest.h>

#include "core/ops/hadamard.h"
#include "gpu_util.h"

namespace quench {
namespace {

using gpu_test::cuda;

void check(const at::Tensor& x, const std::string& what) {
  const int64_t n = x.size(-1);
  auto out = gpu_test::poisoned(x.sizes(), x.options());
  ops::hadamard_transform_out(x, out);
  const auto truth = at::matmul(x.cpu().to(at::kDouble), ops::hadamard_matrix(n, at::kDouble).t());
  const auto cpu = ops::hadamard_transform(x.cpu());
  const bool fp32 = x.scalar_type() == at::kFloat;
  EXPECT_TRUE(gpu_test::all_finite(out)) << what << ": unwritten or non-finite output";
  gpu_test::expect_like_reference(out, cpu, truth, 2.0, fp32 ? 1e-6 : 1e-4, what);
}

TEST(HadamardGpu, MatchesMatrixProductOverSizesAndDtypes) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(300);
  const std::vector<int64_t> ns{1, 2, 4, 8, 16, 64, 256, 512, 4096, 16384, 12, 24, 48, 96, 768, 1536, 3072, 20, 40, 80,
                                640, 5120, 28, 56, 112, 3584, 14336};
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (int64_t n : ns)
      for (int64_t rows : {1, 3, 37}) {
        if (n >= 4096 && rows > 3) continue;  // the float64 reference product grows as rows·n²
        auto x = at::randn({rows, n}, cuda(dtype));
        check(x, std::string(at::toString(dtype)) + " n=" + std::to_string(n) + " rows=" + std::to_string(rows));
      }
}

TEST(HadamardGpu, ManyShortRowsPerBlockAndBatchedShapes) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(301);
  check(at::randn({1001, 12}, cuda()), "1001 rows of 12 (partial last block)");
  check(at::randn({2, 5, 3, 64}, cuda(at::kHalf)), "4-d input");
  check(at::randn({513, 40}, cuda(at::kBFloat16)), "513 rows of 40");
}

TEST(HadamardGpu, InPlaceAndMisaligned) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(302);
  auto x = at::randn({17, 1024}, cuda(at::kHalf));
  auto y = x.clone();
  ops::hadamard_transform_out(y, y);
  EXPECT_TRUE(at::equal(y, ops::hadamard_transform(x))) << "in place";
  // Rows 2 bytes off 16-byte alignment: the scalar load/store path must give the same result.
  auto buf = at::empty({17 * 1024 + 8}, cuda(at::kHalf));
  auto xm = buf.narrow(0, 1, 17 * 1024).view({17, 1024});
  xm.copy_(x);
  EXPECT_TRUE(at::equal(ops::hadamard_transform(xm), ops::hadamard_transform(x))) << "misaligned";
  auto x3 = at::randn({4, 3 * 1024 + 4}, cuda()).narrow(1, 0, 3072);  // non-contiguous rows
  check(x3, "strided input");
}

TEST(HadamardGpu, RegisterKernelSizes) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(304);
  // n = 2048 and 4096 in fp16/bf16 take the register kernel (4 and 2 rows per block): odd row
  // counts leave the last block part empty; large values check that the butterflies run in float32.
  for (auto dtype : {at::kHalf, at::kBFloat16})
    for (int64_t n : {2048, 4096})
      for (int64_t rows : {1, 5, 7}) {
        auto x = (at::randn({rows, n}, cuda()) * 300).to(dtype);
        check(x, std::string(at::toString(dtype)) + " n=" + std::to_string(n) + " rows=" + std::to_string(rows));
      }
  // n = 8192 and 16384: three rounds of butterflies, one row per block.
  for (auto dtype : {at::kHalf, at::kBFloat16})
    for (int64_t n : {8192, 16384}) {
      auto x = (at::randn({3, n}, cuda()) * 300).to(dtype);
      check(x, std::string(at::toString(dtype)) + " n=" + std::to_string(n) + " rows=3");
    }
  // In place, and 2 bytes off alignment (the staged kernel then): both against the CPU reference.
  for (int64_t n : {2048, 4096, 8192, 16384}) {
    auto x = at::randn({9, n}, cuda(at::kHalf));
    const auto want = ops::hadamard_transform(x.cpu());
    auto y = x.clone();
    ops::hadamard_transform_out(y, y);
    EXPECT_LE(gpu_test::rel_fro(y.cpu().to(at::kFloat), want.to(at::kFloat)), 1e-3) << "in place " << n;
    auto buf = at::empty({9 * n + 8}, cuda(at::kHalf));
    auto xm = buf.narrow(0, 1, 9 * n).view({9, n});
    xm.copy_(x);
    EXPECT_LE(gpu_test::rel_fro(ops::hadamard_transform(xm).cpu().to(at::kFloat), want.to(at::kFloat)), 1e-3) << "misaligned " << n;
  }
}

TEST(HadamardGpu, OrthogonalRoundTripWithTransposedMatrix) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(303);
  for (int64_t n : {4096, 5120, 14336}) {
    auto x = at::randn({8, n}, cuda());
    auto y = ops::hadamard_transform(x);
    auto back = at::matmul(y, ops::hadamard_matrix(n).to(at::kCUDA));  // Hᵀ·(H x) = x
    EXPECT_LE(gpu_test::rel_fro(back, x), 1e-5) << n;
  }
}

}  // namespace
}  // namespace quench
