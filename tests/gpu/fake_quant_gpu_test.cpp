// Quantization kernels against the CPU reference: both apply kernels/quant_math.h to the same
// floats, so results must be identical, element for element.
#include <gtest/gtest.h>

#include "core/ops/fake_quant.h"
#include "gpu_util.h"

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

// A contiguous CUDA tensor whose data starts 2 bytes past an allocation: the kernels' scalar path.
at::Tensor misaligned(const at::Tensor& x) {
  auto buf = at::empty({x.numel() + 8}, x.options());
  auto v = buf.narrow(0, 1, x.numel()).view(x.sizes());
  v.copy_(x);
  return v;
}

void check_all_paths(const at::Tensor& x, const QuantSpec& s, const std::string& what) {
  const auto xc = x.cpu();
  // Computed params: one pass on the GPU for Row/Group, stats + apply for Tensor/Column.
  ops::QuantParams pg, pc;
  auto out = gpu_test::poisoned(x.sizes(), x.options());
  ops::fake_quant_out(x, s, out, &pg);
  const auto want = ops::fake_quant(xc, s, &pc);
  EXPECT_TRUE(at::equal(out.cpu(), want)) << what << " fake_quant";
  EXPECT_TRUE(at::equal(pg.scale.cpu(), pc.scale)) << what << " scales";
  if (!s.symmetric) EXPECT_TRUE(at::equal(pg.zero.cpu(), pc.zero)) << what << " zeros";
  EXPECT_TRUE(at::equal(ops::compute_qparams(x, s).scale.cpu(), pc.scale)) << what << " compute_qparams";

  auto qg = ops::quantize(x, s);
  auto qc = ops::quantize(xc, s);
  EXPECT_TRUE(at::equal(qg.q.cpu(), qc.q)) << what << " quantize";

  // Given params, poisoned outputs.
  auto q_out = gpu_test::poisoned(x.sizes(), x.options().dtype(s.symmetric ? at::kChar : at::kByte));
  ops::quantize_out(x, pg, s, q_out);
  EXPECT_TRUE(at::equal(q_out.cpu(), qc.q)) << what << " quantize_out";
  for (auto dt : {at::kFloat, at::kHalf, at::kBFloat16}) {
    auto d_out = gpu_test::poisoned(x.sizes(), x.options().dtype(dt));
    ops::dequantize_out(q_out, pg, s, d_out);
    EXPECT_TRUE(at::equal(d_out.cpu(), ops::dequantize(qc.q, pc, s, dt))) << what << " dequantize to " << at::toString(dt);
  }
  auto f_out = gpu_test::poisoned(x.sizes(), x.options());
  ops::fake_quant_out(x, pg, s, f_out);
  EXPECT_TRUE(at::equal(f_out.cpu(), want)) << what << " fake_quant given";
}

TEST(FakeQuantGpu, MatchesCpuReferenceExactly) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(200);
  const std::vector<std::vector<int64_t>> shapes{{1, 1}, {3, 70}, {17, 128}, {5, 1000}, {2, 3, 40}, {64, 4096}, {3, 12288}};
  for (auto dtype : {at::kFloat, at::kHalf, at::kBFloat16})
    for (const auto& shape : shapes)
      for (auto g : {Granularity::Tensor, Granularity::Row, Granularity::Column, Granularity::Group})
        for (bool sym : {true, false})
          for (int bits : {2, 4, 8}) {
            auto x = (at::randn(shape, cuda()) * 1.5 - 0.2).to(dtype);
            const int64_t group = shape.back() >= 128 ? 128 : 16;
            const std::string what = std::string(at::toString(dtype)) + " " + std::to_string(shape.front()) + "x" +
                                     std::to_string(shape.back()) + " g" + std::to_string(int(g)) + (sym ? " sym " : " asym ") +
                                     std::to_string(bits) + "b";
            check_all_paths(x, spec(bits, sym, g, group), what);
          }
}

TEST(FakeQuantGpu, OddGroupsAndMisalignedData) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(201);
  for (auto dtype : {at::kFloat, at::kHalf}) {
    auto x = at::randn({9, 131}, cuda(dtype));
    check_all_paths(x, spec(4, false, Granularity::Group, 7), "group 7");
    check_all_paths(x, spec(3, true, Granularity::Group, 64), "group 64 over 131");
    check_all_paths(misaligned(x), spec(4, true, Granularity::Row), "misaligned row");
    check_all_paths(misaligned(x), spec(8, false, Granularity::Column), "misaligned column");
    auto wide = at::randn({4, 64 * 40}, cuda(dtype));
    check_all_paths(wide, spec(4, true, Granularity::Group, 64 * 40 / 2), "long groups (block kernel)");
  }
}

TEST(FakeQuantGpu, GroupsThatSplitVectors) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(203);
  // 16-element vectors (quantize / dequantize) and 8-element ones (fp16 fake-quant) that straddle
  // two groups: the apply kernel's per-element scale path.
  for (auto dtype : {at::kHalf, at::kBFloat16}) {
    auto x = (at::randn({6, 4096}, cuda()) * 2).to(dtype);
    check_all_paths(x, spec(4, false, Granularity::Group, 100), "group 100");
    check_all_paths(x, spec(8, true, Granularity::Group, 24), "group 24");
  }
}

TEST(FakeQuantGpu, PerTokenActivations) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(202);
  auto x = at::randn({3, 77, 640}, cuda(at::kHalf));
  EXPECT_TRUE(at::equal(ops::fake_quant_per_token(x, 8).cpu(), ops::fake_quant_per_token(x.cpu(), 8)));
  EXPECT_TRUE(at::equal(ops::fake_quant_per_token(x, 4, false).cpu(), ops::fake_quant_per_token(x.cpu(), 4, false)));
  // Rows at the register-resident limit (8192 16-bit values), past it, and float32 rows past its
  // (4096): both block-kernel paths.
  for (int64_t cols : {8192, 8200, 12288}) {
    auto xb = at::randn({5, cols}, cuda(at::kBFloat16));
    EXPECT_TRUE(at::equal(ops::fake_quant_per_token(xb, 8).cpu(), ops::fake_quant_per_token(xb.cpu(), 8))) << "bf16 " << cols;
    auto xf = at::randn({3, cols}, cuda());
    EXPECT_TRUE(at::equal(ops::fake_quant_per_token(xf, 4, false).cpu(), ops::fake_quant_per_token(xf.cpu(), 4, false))) << "fp32 " << cols;
  }
}

TEST(FakeQuantGpu, PackingMatchesCpu) {
  QUENCH_REQUIRE_CUDA();
  at::manual_seed(203);
  for (int bits = 2; bits <= 8; ++bits) {
    auto q = at::randint(-(1 << (bits - 1)), 1 << (bits - 1), {11, 301}, cuda(at::kChar));
    auto p = ops::pack_int32(q, bits);
    EXPECT_TRUE(at::equal(p.cpu(), ops::pack_int32(q.cpu(), bits))) << bits;
    EXPECT_TRUE(at::equal(ops::unpack_int32(p, bits, 301).cpu(), q.cpu())) << bits;
    auto qu = at::randint(0, 1 << bits, {11, 301}, cuda(at::kByte));
    EXPECT_TRUE(at::equal(ops::unpack_int32(ops::pack_int32(qu, bits), bits, 301, false).cpu(), qu.cpu())) << bits;
  }
}

}  // namespace
}  // namespace quench
