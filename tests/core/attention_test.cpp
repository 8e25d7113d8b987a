// Attention over a long context computes its queries in slices (core/nn/functional.cpp) so the
// float32 scores never exceed 256 MiB; rows of the score matrix are independent, so the sliced
// result must be the one each query gets alone.
#include <gtest/gtest.h>

#include "core/nn/functional.h"

namespace quench {
namespace {

TEST(Attention, SlicedLongContextEqualsEachQueryAlone) {
  at::manual_seed(4);
  const int64_t T = 9000, D = 4;  // 9000² float32 scores: 309 MiB, two slices
  const auto q = at::randn({1, 2, T, D}), k = at::randn({1, 1, T, D}), v = at::randn({1, 1, T, D});
  for (const int64_t window : {int64_t(0), int64_t(700)}) {
    const auto full = attention(q, k, v, 0.5, /*causal=*/true, window);
    ASSERT_EQ(full.sizes(), q.sizes());
    // The first queries see only the first keys; the last ones are queries at the end of the context.
    const auto head = attention(q.narrow(2, 0, 40), k.narrow(2, 0, 40), v.narrow(2, 0, 40), 0.5, true, window);
    const auto tail = attention(q.narrow(2, T - 40, 40), k, v, 0.5, true, window);
    const auto mid = attention(q.narrow(2, 7400, 100), k.narrow(2, 0, 7500), v.narrow(2, 0, 7500), 0.5, true, window);  // across the slice edge
    EXPECT_TRUE(at::allclose(full.narrow(2, 0, 40), head, 1e-5, 1e-6)) << "window " << window;
    EXPECT_TRUE(at::allclose(full.narrow(2, T - 40, 40), tail, 1e-5, 1e-6)) << "window " << window;
    EXPECT_TRUE(at::allclose(full.narrow(2, 7400, 100), mid, 1e-5, 1e-6)) << "window " << window;
  }
}

}  // namespace
}  // namespace quench
