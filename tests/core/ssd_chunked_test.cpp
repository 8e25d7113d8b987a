// The chunked Mamba-2 scan (the SSD algorithm in batched products; what CUDA runs) equals the
// recurrence (the CPU reference loop) for lengths that are and are not whole chunks, grouped B/C,
// and decays from barely any to nearly total.
#include <gtest/gtest.h>

#include "core/nn/scan.h"
#include "test_util.h"

namespace quench {
namespace {

struct Case {
  int64_t batch, length, heads, head_dim, groups, state, chunk;
};

TEST(SsdChunked, EqualsTheRecurrence) {
  for (const Case& k : {Case{2, 64, 4, 8, 1, 16, 16}, Case{1, 50, 6, 4, 2, 8, 16}, Case{2, 7, 4, 4, 4, 4, 64},
                        Case{1, 130, 8, 16, 2, 32, 64}, Case{3, 1, 2, 4, 1, 4, 8}}) {
    at::manual_seed(k.length * 31 + k.heads);
    const at::Tensor x = at::randn({k.batch, k.length, k.heads, k.head_dim});
    // Δ from softplus of a spread of values: decays exp(Δ·A) from ~1 to ~0.
    const at::Tensor dt = at::softplus(at::randn({k.batch, k.length, k.heads}) * 2 - 1);
    const at::Tensor A = -at::exp(at::rand({k.heads}) * 2.5);
    const at::Tensor Bm = at::randn({k.batch, k.length, k.groups, k.state});
    const at::Tensor C = at::randn({k.batch, k.length, k.groups, k.state});
    const at::Tensor D = at::randn({k.heads});
    const at::Tensor ref = ssd_scan(x, dt, A, Bm, C, D);
    const at::Tensor got = ssd_scan_chunked(x, dt, A, Bm, C, D, k.chunk);
    ASSERT_EQ(got.sizes(), ref.sizes());
    EXPECT_LE(test::rel_error(got, ref), 1e-5) << "L " << k.length << " chunk " << k.chunk << " groups " << k.groups;
  }
}

TEST(SsdChunked, ChunkSizeDoesNotChangeTheResult) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({1, 96, 4, 8}), dt = at::softplus(at::randn({1, 96, 4})), A = -at::exp(at::rand({4}));
  const at::Tensor Bm = at::randn({1, 96, 2, 8}), C = at::randn({1, 96, 2, 8}), D = at::ones({4});
  const at::Tensor a = ssd_scan_chunked(x, dt, A, Bm, C, D, 8), b = ssd_scan_chunked(x, dt, A, Bm, C, D, 96);
  EXPECT_LE(test::rel_error(a, b), 1e-5);
}

// x is read in its own dtype (the model's bf16 on a GPU) and promoted inside the products: the
// result is the float32 scan of x's float values.
TEST(SsdChunked, HalfPrecisionInputsScanAsTheirFloatValues) {
  at::manual_seed(5);
  const at::Tensor x = at::randn({2, 40, 4, 8}).to(at::kBFloat16), dt = at::softplus(at::randn({2, 40, 4})), A = -at::exp(at::rand({4}));
  const at::Tensor Bm = at::randn({2, 40, 1, 8}), C = at::randn({2, 40, 1, 8}), D = at::randn({4});
  const at::Tensor got = ssd_scan_chunked(x, dt, A, Bm, C, D, 16), ref = ssd_scan_chunked(x.to(at::kFloat), dt, A, Bm, C, D, 16);
  EXPECT_EQ(got.scalar_type(), at::kFloat);
  EXPECT_LE(test::rel_error(got, ref), 1e-6);
}

}  // namespace
}  // namespace quench
