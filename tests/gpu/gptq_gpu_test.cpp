// GPTQ's block kernel (kernels/gptq.h): bit for bit the column loop it replaces, run here on the
// host with the same float roundings; and gptq_quantize on CUDA against the CPU reference.
#include <gtest/gtest.h>

#include <cmath>

#include "core/compress/gptq.h"
#include "core/ops/gptq_block.h"
#include "gpu_util.h"
#include "kernels/quant_math.h"

namespace quench {
namespace {

using gpu_test::cuda;
using ops::Granularity;
using ops::QuantSpec;

QuantSpec spec(int bits, bool sym, Granularity g, int64_t group = 0) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = sym;
  s.granularity = g;
  s.group_size = group;
  return s;
}

// U as gptq_quantize makes it, from inputs with a few loud channels.
at::Tensor upper_factor(int64_t in) {
  at::manual_seed(3);
  auto x = at::randn({4 * in, in}, at::kDouble);
  x.narrow(1, 7, 3).mul_(20);
  at::Tensor H = (x.t().matmul(x) * (2.0 / x.size(0))).to(at::kFloat);
  return upper_inverse_cholesky(H, 0.01, "test", "damp", nullptr);
}

// The column loop on the host, one block, with the kernel's roundings spelled out.
void host_block(at::Tensor W, at::Tensor Q, at::Tensor E, const at::Tensor& U, int64_t i1, int64_t count, const QuantSpec& s,
                const ops::QuantParams& given, at::Tensor scale_out, at::Tensor zero_out) {
  namespace qm = kernels::qmath;
  const int64_t out = W.size(0);
  auto w = W.accessor<float, 2>();
  auto q = Q.accessor<float, 2>();
  auto e = E.accessor<float, 2>();
  auto u = U.accessor<float, 2>();
  const float lo = qm::qmin(s.bits, s.symmetric), hi = qm::qmax(s.bits, s.symmetric);
  for (int64_t r = 0; r < out; ++r) {
    std::vector<float> row(count);
    for (int64_t c = 0; c < count; ++c) row[c] = w[r][i1 + c];
    float sc = 1.f, z = 0.f;
    if (s.granularity != Granularity::Group) {
      const int64_t k = s.granularity == Granularity::Row ? r : 0;
      sc = given.scale.reshape({-1})[k].item<float>();
      z = s.symmetric ? 0.f : static_cast<float>(given.zero.reshape({-1})[k].item<int>());
    }
    for (int64_t i = 0; i < count; ++i) {
      if (s.granularity == Granularity::Group && i % s.group_size == 0) {
        const int64_t end = std::min(i + s.group_size, count);
        if (s.symmetric) {
          float amax = 0.f;
          for (int64_t j = i; j < end; ++j) amax = std::fmax(amax, std::fabs(row[j]));
          sc = qm::scale_symmetric(amax, s.bits, static_cast<float>(s.clip));
        } else {
          float mn = row[i], mx = row[i];
          for (int64_t j = i + 1; j < end; ++j) mn = std::fmin(mn, row[j]), mx = std::fmax(mx, row[j]);
          qm::scale_zero_asymmetric(mn, mx, s.bits, static_cast<float>(s.clip), &sc, &z);
          zero_out[r][(i1 + i) / s.group_size] = static_cast<int32_t>(z);
        }
        scale_out[r][(i1 + i) / s.group_size] = sc;
      }
      const float x = row[i];
      const float qv = qm::dequantize(qm::quantize(x, sc, z, lo, hi), sc, z);
      const volatile float diff = x - qv;
      const float err = diff / u[i1 + i][i1 + i];
      for (int64_t j = i + 1; j < count; ++j) {
        const volatile float prod = err * u[i1 + i][i1 + j];
        row[j] = row[j] - prod;
      }
      q[r][i1 + i] = qv;
      e[r][i] = err;
    }
  }
}

void expect_kernel_matches_loop(int64_t out, int64_t in, int64_t i1, int64_t count, const QuantSpec& s) {
  at::manual_seed(5);
  const auto W = at::randn({out, in});
  const auto U = upper_factor(in);
  ops::QuantParams given;
  if (s.granularity != Granularity::Group) given = ops::compute_qparams(W, s);
  const int64_t groups = s.granularity == Granularity::Group ? (in + s.group_size - 1) / s.group_size : 1;
  auto Q = at::zeros({out, in}), E = at::zeros({out, count});
  auto sc = at::zeros({out, groups}), z = at::zeros({out, groups}, at::kInt);
  host_block(W, Q, E, U, i1, count, s, given, sc, z);

  ops::QuantParams given_gpu{given.scale.defined() ? given.scale.cuda() : at::Tensor(), given.zero.defined() ? given.zero.cuda() : at::Tensor()};
  at::Tensor Qg = at::zeros({out, in}, cuda()), Eg = gpu_test::poisoned({out, count}, cuda());
  at::Tensor scg = at::zeros({out, groups}, cuda()), zg = at::zeros({out, groups}, cuda(at::kInt));
  at::Tensor loss = at::zeros({1}, cuda(at::kDouble));
  ASSERT_TRUE(ops::gptq_block_on_kernel(W.cuda(), s, count));
  ops::gptq_block(W.cuda(), Qg, Eg, U.cuda(), i1, count, s, given_gpu, scg, zg, loss);
  const std::string what = std::to_string(out) + "x" + std::to_string(in) + " block " + std::to_string(i1) + "+" + std::to_string(count) +
                           " bits " + std::to_string(s.bits) + (s.symmetric ? " sym" : " asym");
  EXPECT_TRUE(at::equal(Qg.cpu(), Q)) << what << ": q differs, max " << (Qg.cpu() - Q).abs().max().item<double>();
  EXPECT_TRUE(at::equal(Eg.cpu(), E)) << what << ": errors differ, max " << (Eg.cpu() - E).abs().max().item<double>();
  if (s.granularity == Granularity::Group) {
    EXPECT_TRUE(at::equal(scg.cpu(), sc)) << what << ": group scales differ";
    if (!s.symmetric) EXPECT_TRUE(at::equal(zg.cpu(), z)) << what << ": group zeros differ";
  }
  // Summed per row in double on the GPU, over the whole tensor here: equal up to summation order.
  EXPECT_NEAR(loss.item<double>(), E.to(at::kDouble).pow(2).sum().item<double>(), 1e-6 * (1 + loss.item<double>())) << what;
}

TEST(GptqKernel, MatchesTheColumnLoopBitForBit) {
  QUENCH_REQUIRE_CUDA();
  expect_kernel_matches_loop(100, 256, 0, 128, spec(4, true, Granularity::Group, 128));
  expect_kernel_matches_loop(100, 256, 128, 128, spec(4, false, Granularity::Group, 64));
  expect_kernel_matches_loop(33, 320, 256, 64, spec(3, false, Granularity::Group, 128));  // a short last group
  expect_kernel_matches_loop(64, 256, 128, 128, spec(8, true, Granularity::Row));
  expect_kernel_matches_loop(70, 192, 64, 100, spec(4, false, Granularity::Row));
  expect_kernel_matches_loop(40, 128, 0, 128, spec(2, true, Granularity::Tensor));
}

// The whole method on CUDA against the CPU reference: the Cholesky factors differ in their last
// bits between cuSOLVER and LAPACK, so a few columns may round the other way; the results must
// stay as close as that allows and GPTQ's own loss must agree.
TEST(GptqKernel, GptqOnCudaMatchesTheCpuReference) {
  QUENCH_REQUIRE_CUDA();
  const int64_t out = 96, in = 384;
  at::manual_seed(9);
  auto x = at::randn({2048, in});
  x.narrow(1, 11, 2).mul_(15);
  const auto w = at::randn({out, in});
  HessianAccumulator h(in);
  h.add(x);
  for (const bool act_order : {false, true})
    for (const bool sym : {true, false})
      for (const WeightStrategy st : {WeightStrategy::Group, WeightStrategy::Channel}) {
        WeightQuant g;
        g.bits = 4;
        g.symmetric = sym;
        g.strategy = st;
        g.group_size = st == WeightStrategy::Group ? 128 : 0;
        g.method = "gptq";
        g.options["act_order"] = act_order;
        GptqInfo ic, ig;
        const auto qc = gptq_quantize(w, h.hessian(), g, "cpu", &ic);
        const auto qg = gptq_quantize(w.cuda(), h.hessian().cuda(), g, "gpu", &ig);
        const std::string what = g.describe() + (act_order ? " act-order" : "");
        EXPECT_LT(gpu_test::rel_fro(qg, qc), 0.05) << what;
        EXPECT_NEAR(ig.loss, ic.loss, 0.02 * ic.loss) << what;
        EXPECT_LT(gpu_test::rel_fro(ig.encoding.params.scale, ic.encoding.params.scale), 0.02) << what;
        if (!sym) EXPECT_EQ(ig.encoding.params.zero.sizes(), ic.encoding.params.zero.sizes()) << what;
        if (act_order && st == WeightStrategy::Group) EXPECT_TRUE(at::equal(ig.encoding.g_idx.cpu(), ic.encoding.g_idx)) << what;
      }
}

}  // namespace
}  // namespace quench
