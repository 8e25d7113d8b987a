// Hadamard matrices and the CPU transform: orthogonality, supported sizes, and transform(x) == x·Hᵀ.
#include <gtest/gtest.h>

#include "core/ops/hadamard.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

TEST(Hadamard, SupportedSizes) {
  for (int64_t n : {1, 2, 4, 1024, 12, 24, 768, 20, 40, 5120, 28, 56, 14336}) EXPECT_TRUE(ops::hadamard_supported(n)) << n;
  for (int64_t n : {0, 3, 6, 10, 14, 36, 44, 100, 11008}) EXPECT_FALSE(ops::hadamard_supported(n)) << n;
  EXPECT_EQ(ops::hadamard_k(5120), 20);  // 20·256
  EXPECT_EQ(ops::hadamard_k(14336), 28);
  EXPECT_EQ(ops::hadamard_k(1536), 12);  // Quamba 130M d_inner = 12·128
}

TEST(Hadamard, MatricesAreOrthonormal) {
  for (int64_t n : {1, 2, 8, 12, 20, 28, 24, 40, 56, 96, 112, 256}) {
    auto h = ops::hadamard_matrix(n, at::kDouble);
    EXPECT_LE((at::matmul(h, h.t()) - at::eye(n, at::kDouble)).abs().max().item<double>(), 1e-12) << n;
    auto raw = ops::hadamard_matrix(n, at::kDouble, false);
    EXPECT_TRUE(at::equal(raw.abs(), at::ones_like(raw))) << n;
  }
}

TEST(Hadamard, KroneckerIndexConvention) {
  // H_96 = H_12 ⊗ H_8: row a·8 + b is H_12[a] ⊗ H_8[b].
  auto h96 = ops::hadamard_matrix(96, at::kDouble, false);
  auto h12 = ops::hadamard_matrix(12, at::kDouble, false);
  auto h8 = ops::hadamard_matrix(8, at::kDouble, false);
  EXPECT_TRUE(at::equal(h96, at::kron(h12, h8)));
  EXPECT_TRUE(at::equal(h96[8 * 5 + 3], at::kron(h12[5], h8[3])));
  EXPECT_TRUE(at::equal(h8[3], at::tensor({1., -1., -1., 1., 1., -1., -1., 1.}, at::kDouble)));  // Sylvester
}

TEST(Hadamard, TransformEqualsMatrixProduct) {
  at::manual_seed(20);
  for (int64_t n : {1, 2, 16, 12, 48, 20, 80, 28, 224, 1024, 3072}) {
    auto x = at::randn({5, n});
    auto y = ops::hadamard_transform(x);
    auto ref = at::matmul(x.to(at::kDouble), ops::hadamard_matrix(n, at::kDouble).t());
    EXPECT_LE(test::rel_error(y, ref), 2e-6) << n;
    EXPECT_TRUE(at::allclose(y.norm(2, -1), x.norm(2, -1), 1e-5, 1e-6)) << n;  // a rotation
    auto raw = ops::hadamard_transform(x, false);
    EXPECT_LE(test::rel_error(raw, at::matmul(x.to(at::kDouble), ops::hadamard_matrix(n, at::kDouble, false).t())), 2e-6) << n;
  }
}

TEST(Hadamard, OnlineAndOfflineRotationsCancel) {
  at::manual_seed(21);
  const int64_t n = 40;
  auto w = at::randn({7, n}), x = at::randn({3, n});
  auto w_rot = at::matmul(w, ops::hadamard_matrix(n).t());  // offline: W' = W·Hᵀ
  auto x_rot = ops::hadamard_transform(x);                  // online: x' = H·x
  EXPECT_LE(test::rel_error(at::matmul(x_rot, w_rot.t()), at::matmul(x, w.t())), 1e-5);
}

TEST(Hadamard, HalfPrecisionAndInPlace) {
  at::manual_seed(22);
  auto x = at::randn({3, 2, 96});
  auto xh = x.to(at::kBFloat16);
  auto y = ops::hadamard_transform(xh);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(y, ops::hadamard_transform(xh.to(at::kFloat)).to(at::kBFloat16)));
  auto z = x.clone();
  ops::hadamard_transform_out(z, z);
  EXPECT_TRUE(at::equal(z, ops::hadamard_transform(x)));
}

TEST(Hadamard, RejectsUnsupported) {
  EXPECT_THROW(ops::hadamard_transform(at::randn({2, 36})), Error);
  EXPECT_THROW(ops::hadamard_matrix(6), Error);
  EXPECT_THROW(ops::hadamard_transform(at::randn({2, 8}, at::kDouble)), Error);
}

}  // namespace
}  // namespace quench
