// SparseGPT's block kernel (kernels/sparsegpt.h) against the torch column loop it replaces, which
// stays the CPU reference. Within one block the kernel rounds as the loop does, but U (the Cholesky
// factor of H⁻¹) comes from cuSOLVER on the GPU and LAPACK on the CPU and differs in the last bits,
// so the masks agree and the weights to ~1e-6; over several blocks cuBLAS's update of the later
// columns rounds differently too, so a few near-tie mask entries may differ.
#include <gtest/gtest.h>

#include "core/compress/gptq.h"
#include "core/compress/sparsegpt.h"
#include "core/ops/sparsegpt_block.h"
#include "gpu_util.h"

namespace quench {
namespace {

struct Layer {
  at::Tensor w, h;
};

// A weight with a few loud input channels, as calibration Hessians have.
Layer layer(int64_t out, int64_t in) {
  at::manual_seed(11);
  auto x = at::randn({4 * in, in}, at::kDouble);
  x.narrow(1, 5, 3).mul_(20);
  return {at::randn({out, in}), (x.t().matmul(x) * (2.0 / x.size(0))).to(at::kFloat)};
}

PruneSetting setting(double sparsity, int n = 0, int m = 0) {
  PruneSetting p;
  p.method = "sparsegpt";
  p.sparsity = sparsity;
  p.n = n;
  p.m = m;
  return p;
}

TEST(SparseGptKernel, OneBlockMatchesTheColumnLoop) {
  QUENCH_REQUIRE_CUDA();
  const Layer l = layer(200, 128);  // 200 rows: a partial warp of rows at the end
  for (const PruneSetting& p : {setting(0.5), setting(0.7), setting(0, 2, 4), setting(0, 1, 4), setting(0, 8, 16)}) {
    ASSERT_TRUE(ops::sparsegpt_block_on_kernel(l.w.cuda(), p.integer("block_size"), p.m));
    SparseGptInfo ic, ig;
    const PruneOutcome c = sparsegpt_prune(l.w, l.h, p, "cpu", &ic);
    const PruneOutcome g = sparsegpt_prune(l.w.cuda(), l.h.cuda(), p, "gpu", &ig);
    const std::string what = p.describe();
    EXPECT_TRUE(at::equal(c.mask, g.mask.cpu())) << what;
    // Measured on an H100: at most 3.6e-6 for weights of magnitude ~3.
    EXPECT_LT(at::max(at::abs(c.weight - g.weight.cpu())).item<float>(), 2e-6 * at::max(at::abs(l.w)).item<float>()) << what;
    EXPECT_NEAR(ig.loss, ic.loss, 1e-5 * ic.loss) << what;
  }
}

TEST(SparseGptKernel, ManyBlocksAgreeWithTheCpuReference) {
  QUENCH_REQUIRE_CUDA();
  const Layer l = layer(256, 640);  // five blocks of 128
  for (const PruneSetting& p : {setting(0.5), setting(0, 2, 4)}) {
    SparseGptInfo ic, ig;
    const PruneOutcome c = sparsegpt_prune(l.w, l.h, p, "cpu", &ic);
    const PruneOutcome g = sparsegpt_prune(l.w.cuda(), l.h.cuda(), p, "gpu", &ig);
    const std::string what = p.describe();
    // The same number of weights pruned, the pattern held, and nearly the same ones chosen.
    EXPECT_EQ(g.mask.logical_not().sum().item<int64_t>(), c.mask.logical_not().sum().item<int64_t>()) << what;
    if (p.nm()) EXPECT_TRUE(g.mask.cpu().reshape({256, -1, 4}).sum(2).eq(2).all().item<bool>()) << what;
    const double agree = g.mask.cpu().eq(c.mask).to(at::kDouble).mean().item<double>();
    EXPECT_GT(agree, 0.995) << what;
    EXPECT_TRUE(g.weight.cpu().masked_select(g.mask.cpu().logical_not()).eq(0).all().item<bool>()) << what;
    EXPECT_NEAR(ig.loss, ic.loss, 0.01 * ic.loss) << what;
    EXPECT_LT(gpu_test::rel_fro(g.weight, c.weight), 0.05) << what;
  }
}

TEST(SparseGptKernel, BlocksTheKernelCannotHoldFallBackToTheLoop) {
  QUENCH_REQUIRE_CUDA();
  const Layer l = layer(64, 512);
  PruneSetting p = setting(0.5);
  p.options["block_size"] = 256;  // above the kernel's 128 columns
  EXPECT_FALSE(ops::sparsegpt_block_on_kernel(l.w.cuda(), p.integer("block_size"), p.m));
  const PruneOutcome c = sparsegpt_prune(l.w, l.h, p, "cpu");
  const PruneOutcome g = sparsegpt_prune(l.w.cuda(), l.h.cuda(), p, "gpu");
  EXPECT_EQ(g.mask.logical_not().sum().item<int64_t>(), c.mask.logical_not().sum().item<int64_t>());
  EXPECT_GT(g.mask.cpu().eq(c.mask).to(at::kDouble).mean().item<double>(), 0.995);
}

}  // namespace
}  // namespace quench
