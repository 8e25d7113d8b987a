// Selective scan kernel against the CPU reference loop and a float64 recurrence.
#include <gtest/gtest.h>

#include "core/nn/scan.h"
#include "gpu_util.h"

namespace quench {
namespace {

using gpu_test::cuda;

// float64 truth of the same recurrence, from already-rounded inputs (CPU).
at::Tensor scan_f64(const at::Tensor& u_, const at::Tensor& dt_, const at::Tensor& A_, const at::Tensor& B_, const at::Tensor& C_,
                    const at::Tensor& D_) {
  auto u = u_.cpu().to(at::kDouble), dt = dt_.cpu().to(at::kDouble), A = A_.cpu().to(at::kDouble);
  auto B = B_.cpu().to(at::kDouble), C = C_.cpu().to(at::kDouble);
  const int64_t Bn = u.size(0), L = u.size(1), Dn = u.size(2), N = A.size(1);
  auto h = at::zeros({Bn, Dn, N}, at::kDouble);
  std::vector<at::Tensor> ys;
  for (int64_t t = 0; t < L; ++t) {
    auto d = dt.select(1, t).unsqueeze(-1);
    h = at::exp(A * d) * h + d * u.select(1, t).unsqueeze(-1) * B.select(1, t).unsqueeze(1);
    ys.push_back((h * C.select(1, t).unsqueeze(1)).sum(-1));
  }
  auto y = at::stack(ys, 1);
  if (D_.defined()) y = y + u * D_.cpu().to(at::kDouble);
  return y;
}

struct Shape {
  int64_t B, L, D, N;
};

TEST(SelectiveScanGpu, MatchesReferenceOverShapesAndDtypes) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(400);
  const std::vector<Shape> shapes{{1, 1, 1, 1}, {2, 67, 37, 16}, {3, 130, 200, 7}, {1, 300, 64, 16}, {2, 65, 129, 3}};
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (const auto& s : shapes)
      for (bool with_d : {true, false}) {
        auto u = at::randn({s.B, s.L, s.D}, cuda()).to(dtype);
        auto dt = at::softplus(at::randn({s.B, s.L, s.D}, cuda()) - 1).to(dtype);
        auto A = -at::exp(at::randn({s.D, s.N}, cuda()) * 0.5);
        auto Bm = at::randn({s.B, s.L, s.N}, cuda()).to(dtype);
        auto C = at::randn({s.B, s.L, s.N}, cuda()).to(dtype);
        auto D = with_d ? at::randn({s.D}, cuda()) : at::Tensor();
        const std::string what = std::string(at::toString(dtype)) + " B" + std::to_string(s.B) + " L" + std::to_string(s.L) + " D" +
                                 std::to_string(s.D) + " N" + std::to_string(s.N) + (with_d ? " +D" : "");
        auto y = selective_scan(u, dt, A, Bm, C, D);
        ASSERT_EQ(y.scalar_type(), dtype) << what;
        auto ref = selective_scan(u.cpu(), dt.cpu(), A.cpu(), Bm.cpu(), C.cpu(), D.defined() ? D.cpu() : D);
        auto truth = scan_f64(u, dt, A, Bm, C, D);
        EXPECT_TRUE(gpu_test::all_finite(y)) << what;
        gpu_test::expect_like_reference(y, ref, truth, 4.0, dtype == at::kFloat ? 1e-5 : 1e-3, what);
      }
}

TEST(SelectiveScanGpu, SlicedBAndCAsTheModelPassesThem) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(401);
  const int64_t Bn = 2, L = 90, Dn = 48, N = 16, R = 3;
  auto proj = at::randn({Bn, L, R + 2 * N}, cuda(at::kHalf));  // x_proj output: [dt_rank | B | C]
  auto parts = proj.split({R, N, N}, -1);
  auto u = at::randn({Bn, L, Dn}, cuda(at::kHalf));
  auto dt = at::softplus(at::randn({Bn, L, Dn}, cuda())).to(at::kHalf);
  auto A = -at::exp(at::randn({Dn, N}, cuda()));
  auto D = at::randn({Dn}, cuda(at::kHalf));
  auto y = selective_scan(u, dt, A, parts[1], parts[2], D);
  auto y_contig = selective_scan(u, dt, A, parts[1].contiguous(), parts[2].contiguous(), D);
  EXPECT_TRUE(at::equal(y, y_contig));
  auto ref = selective_scan(u.cpu(), dt.cpu(), A.cpu(), parts[1].cpu(), parts[2].cpu(), D.cpu());
  gpu_test::expect_like_reference(y, ref, scan_f64(u, dt, A, parts[1], parts[2], D), 4.0, 1e-3, "sliced B/C");
}

TEST(SelectiveScanGpu, Int8MatchesCpuReference) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(402);
  const std::vector<Shape> shapes{{1, 1, 1, 1}, {2, 67, 37, 16}, {1, 257, 130, 16}, {3, 40, 65, 5}};
  for (const auto& s : shapes)
    for (auto out_dtype : {at::kHalf, at::kFloat})
      for (bool softplus : {false, true}) {
        auto qu = at::randint(-128, 128, {s.B, s.L, s.D}, cuda(at::kChar));
        auto qd = softplus ? at::randint(-128, 128, {s.B, s.L, s.D}, cuda(at::kChar)) : at::randint(0, 128, {s.B, s.L, s.D}, cuda(at::kChar));
        auto qb = at::randint(-128, 128, {s.B, s.L, s.N}, cuda(at::kChar));
        auto qc = at::randint(-128, 128, {s.B, s.L, s.N}, cuda(at::kChar));
        auto A = -at::exp(at::randn({s.D, s.N}, cuda()) * 0.5);
        auto D = at::randn({s.D}, cuda());
        auto bias = softplus ? at::randn({s.D}, cuda()) * 0.5 : at::Tensor();
        ScanInt8Scales sc{0.02f, softplus ? 0.02f : 0.01f, 0.015f, 0.03f};
        const std::string what = "int8 B" + std::to_string(s.B) + " L" + std::to_string(s.L) + " D" + std::to_string(s.D) + " N" +
                                 std::to_string(s.N) + (softplus ? " softplus" : "") + " → " + at::toString(out_dtype);
        auto y = selective_scan_int8(qu, qd, A, qb, qc, D, sc, bias, softplus, out_dtype);
        ASSERT_EQ(y.scalar_type(), out_dtype) << what;
        auto ref = selective_scan_int8(qu.cpu(), qd.cpu(), A.cpu(), qb.cpu(), qc.cpu(), D.cpu(), sc,
                                       bias.defined() ? bias.cpu() : bias, softplus, out_dtype);
        // Truth: float64 recurrence on the dequantized inputs.
        auto deq = [](const at::Tensor& q, float s) { return q.cpu().to(at::kDouble) * s; };
        auto dtt = deq(qd, sc.delta);
        if (softplus) dtt = at::softplus(dtt + bias.cpu().to(at::kDouble));
        auto truth = scan_f64(deq(qu, sc.u), dtt, A, deq(qb, sc.B), deq(qc, sc.C), D);
        EXPECT_TRUE(gpu_test::all_finite(y)) << what;
        gpu_test::expect_like_reference(y, ref, truth, 4.0, out_dtype == at::kFloat ? 1e-5 : 1e-3, what);
      }
}

TEST(SelectiveScanGpu, LargeStateFallsBackToTheTorchLoop) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(403);
  auto u = at::randn({1, 20, 8}, cuda()), dt = at::softplus(at::randn({1, 20, 8}, cuda()));
  auto A = -at::exp(at::randn({8, 32}, cuda())), Bm = at::randn({1, 20, 32}, cuda()), C = at::randn({1, 20, 32}, cuda());
  auto y = selective_scan(u, dt, A, Bm, C, at::Tensor());
  auto ref = selective_scan(u.cpu(), dt.cpu(), A.cpu(), Bm.cpu(), C.cpu(), at::Tensor());
  EXPECT_LE(gpu_test::rel_fro(y, ref), 1e-5);
}

}  // namespace
}  // namespace quench
