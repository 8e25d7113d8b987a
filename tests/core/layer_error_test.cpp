// ErrorAccumulator (core/compress/layer_error.h) sums in float64 a slice of 2^24 elements at a
// time (an 8B model's MLP outputs in float64 were 1.9 GB each): the slices must add up to the
// whole, across tensors too.
#include <gtest/gtest.h>

#include <cmath>

#include "core/compress/layer_error.h"

namespace quench {
namespace {

TEST(ErrorAccumulator, SlicesAddUpToTheWhole) {
  at::manual_seed(9);
  const at::Tensor ref = at::randn({5, 3500000});  // 17.5 M elements: two slices
  const at::Tensor test = ref + 0.01 * at::randn({5, 3500000});
  ErrorAccumulator acc;
  acc.add(test, ref);
  acc.add(test.narrow(1, 0, 1000), ref.narrow(1, 0, 1000));
  const auto r = ref.to(at::kDouble), d = test.to(at::kDouble) - r;
  const auto r2 = r.narrow(1, 0, 1000), d2 = d.narrow(1, 0, 1000);
  const double signal = r.pow(2).sum().item<double>() + r2.pow(2).sum().item<double>();
  const double noise = d.pow(2).sum().item<double>() + d2.pow(2).sum().item<double>();
  ASSERT_TRUE(acc.rel_mse().has_value());
  EXPECT_NEAR(*acc.rel_mse(), noise / signal, 1e-12 * noise / signal);
  EXPECT_NEAR(*acc.sqnr_db(), 10 * std::log10(signal / noise), 1e-9);
  EXPECT_THROW(acc.add(test.narrow(1, 0, 10), ref.narrow(1, 0, 11)), std::exception);
}

}  // namespace
}  // namespace quench
