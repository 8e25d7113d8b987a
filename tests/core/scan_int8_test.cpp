// The int8 (Quamba) selective scan's CPU reference against the float scan on inputs dequantized
// with libtorch, and the float scan against a float64 recurrence.
#include <gtest/gtest.h>

#include "core/nn/scan.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

struct Inputs {
  at::Tensor u, dt, A, B, C, D;
};

Inputs random_inputs(int64_t Bn, int64_t L, int64_t Dn, int64_t N) {
  Inputs in;
  in.u = at::randn({Bn, L, Dn});
  in.dt = at::softplus(at::randn({Bn, L, Dn}) - 1);
  in.A = -at::exp(at::randn({Dn, N}) * 0.5);
  in.B = at::randn({Bn, L, N});
  in.C = at::randn({Bn, L, N});
  in.D = at::randn({Dn});
  return in;
}

TEST(SelectiveScanInt8, MatchesFloatScanOnDequantizedInputs) {
  at::manual_seed(30);
  const int64_t Bn = 2, L = 33, Dn = 7, N = 5;
  auto qu = at::randint(-128, 128, {Bn, L, Dn}, at::kChar), qd = at::randint(-128, 128, {Bn, L, Dn}, at::kChar);
  auto qb = at::randint(-128, 128, {Bn, L, N}, at::kChar), qc = at::randint(-128, 128, {Bn, L, N}, at::kChar);
  auto A = -at::exp(at::randn({Dn, N}) * 0.5);
  auto D = at::randn({Dn}), bias = at::randn({Dn}) * 0.3;
  ScanInt8Scales sc{0.02f, 0.01f, 0.015f, 0.03f};
  auto deq = [](const at::Tensor& q, float s) { return q.to(at::kFloat) * s; };
  // Quamba's form: δ = softplus(q·s + bias).
  auto y8 = selective_scan_int8(qu, qd, A, qb, qc, D, sc, bias, true, at::kFloat);
  auto yf = selective_scan(deq(qu, sc.u), at::softplus(deq(qd, sc.delta) + bias), A, deq(qb, sc.B), deq(qc, sc.C), D);
  EXPECT_EQ(y8.scalar_type(), at::kFloat);
  EXPECT_LE(test::rel_error(y8, yf), 1e-5);
  // Without bias and softplus δ is used as dequantized; float16 output by default.
  auto qdp = at::randint(0, 128, {Bn, L, Dn}, at::kChar);  // δ ≥ 0 as softplus would give
  auto y16 = selective_scan_int8(qu, qdp, A, qb, qc, D, sc);
  EXPECT_EQ(y16.scalar_type(), at::kHalf);
  auto yf2 = selective_scan(deq(qu, sc.u), deq(qdp, sc.delta), A, deq(qb, sc.B), deq(qc, sc.C), D);
  EXPECT_LE(test::rel_error(y16, yf2), 1e-3);
  // Each scale goes to its own input: swapping those of u and delta changes the result.
  ScanInt8Scales swapped{sc.delta, sc.u, sc.B, sc.C};
  EXPECT_GT(test::rel_error(selective_scan_int8(qu, qdp, A, qb, qc, D, swapped, {}, false, at::kFloat), yf2), 1e-2);
}

TEST(SelectiveScan, CpuLoopMatchesFloat64Recurrence) {
  at::manual_seed(31);
  auto in = random_inputs(2, 50, 6, 4);
  auto y = selective_scan(in.u, in.dt, in.A, in.B, in.C, in.D);
  // float64 recurrence written with libtorch ops.
  auto u = in.u.to(at::kDouble), dt = in.dt.to(at::kDouble), A = in.A.to(at::kDouble);
  auto B = in.B.to(at::kDouble), C = in.C.to(at::kDouble);
  auto h = at::zeros({2, 6, 4}, at::kDouble);
  std::vector<at::Tensor> ys;
  for (int64_t t = 0; t < 50; ++t) {
    auto d = dt.select(1, t).unsqueeze(-1);
    h = at::exp(A * d) * h + d * u.select(1, t).unsqueeze(-1) * B.select(1, t).unsqueeze(1);
    ys.push_back((h * C.select(1, t).unsqueeze(1)).sum(-1));
  }
  auto ref = at::stack(ys, 1) + u * in.D.to(at::kDouble);
  EXPECT_LE(test::rel_error(y, ref), 1e-5);
  EXPECT_LE(test::rel_error(selective_scan_torch_loop(in.u, in.dt, in.A, in.B, in.C, in.D), ref), 1e-5);
  // No D: no skip term.
  EXPECT_LE(test::rel_error(selective_scan(in.u, in.dt, in.A, in.B, in.C, at::Tensor()) + in.u * in.D, y), 1e-5);
}

TEST(SelectiveScanInt8, RejectsBadInputs) {
  auto q = at::zeros({1, 4, 3}, at::kChar), qb = at::zeros({1, 4, 2}, at::kChar);
  auto A = -at::ones({3, 2});
  EXPECT_THROW(selective_scan_int8(q.to(at::kFloat), q, A, qb, qb, at::Tensor(), {}), Error);
  EXPECT_THROW(selective_scan_int8(q, q, A, qb, qb, at::Tensor(), ScanInt8Scales{0.f, 1.f, 1.f, 1.f}), Error);
  EXPECT_THROW(selective_scan_int8(q, q, -at::ones({4, 2}), qb, qb, at::Tensor(), {}), Error);
  EXPECT_THROW(selective_scan_int8(q, q, A, qb, qb, at::Tensor(), {}, {}, false, at::kBFloat16), Error);
}

}  // namespace
}  // namespace quench
