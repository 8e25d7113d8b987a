// FP8 E4M3 rounding (core/ops/fp8.h) against the format's own table: every one of the 126
// positive finite codes decoded from its bits is a fixed point, the midpoint between neighbours
// goes to the one with the even mantissa, values past 448 saturate, and signs are symmetric.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/io/e4m3.h"
#include "core/ops/fp8.h"
#include "core/util/error.h"

namespace quench {
namespace {

// Decodes a positive E4M3 code (sign bit clear): exponent bias 7, 3 mantissa bits, 0x7F NaN.
double decode(int code) {
  const int e = (code >> 3) & 0xF, m = code & 7;
  if (e == 0) return std::ldexp(m, -9);
  return std::ldexp(1.0 + m / 8.0, e - 7);
}

TEST(Fp8E4m3, RoundsToTheFormatsValuesTiesToEvenAndSaturates) {
  std::vector<float> values;
  for (int code = 0; code < 0x7F; ++code) values.push_back(static_cast<float>(decode(code)));
  ASSERT_EQ(values.back(), 448.0f);
  const at::Tensor v = at::tensor(values);
  EXPECT_TRUE(at::equal(ops::round_e4m3(v), v));
  EXPECT_TRUE(at::equal(ops::round_e4m3(-v), -v));
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    const float mid = 0.5f * (values[i] + values[i + 1]);
    const float even = (i % 2 == 0) ? values[i] : values[i + 1];  // code i's mantissa is even when i is
    EXPECT_EQ(ops::round_e4m3(at::tensor({mid})).item<float>(), even) << "between codes " << i << " and " << i + 1;
    const float below = std::nextafter(mid, 0.0f), above = std::nextafter(mid, 1000.0f);
    EXPECT_EQ(ops::round_e4m3(at::tensor({below})).item<float>(), values[i]) << i;
    EXPECT_EQ(ops::round_e4m3(at::tensor({above})).item<float>(), values[i + 1]) << i;
  }
  EXPECT_EQ(ops::round_e4m3(at::tensor({1e6f, -500.0f})).max().item<float>(), 448.0f);
  EXPECT_EQ(ops::round_e4m3(at::tensor({-500.0f})).item<float>(), -448.0f);
  EXPECT_TRUE(std::isnan(ops::round_e4m3(at::tensor({NAN})).item<float>()));
}

TEST(Fp8E4m3, FakeQuantScalesAndKeepsTheDtype) {
  const at::Tensor x = at::tensor({0.0f, 1.0f, -3.3f, 10.0f}).to(at::kBFloat16);
  const at::Tensor y = ops::fake_quant_e4m3(x, 10.0 / 448.0);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  EXPECT_NEAR(y[3].item<float>(), 10.0f, 0.05f);  // the absmax lands on 448
  EXPECT_EQ(y[0].item<float>(), 0.0f);
  EXPECT_THROW(ops::fake_quant_e4m3(x, 0.0), Error);
}

// Bytes of every E4M3 value, both signs, against the table: e4m3_bytes and e4m3_values invert
// each other; a value that is not E4M3 (or NaN) is an error naming the tensor.
TEST(Fp8E4m3, BytesOfEveryValueAndBack) {
  std::vector<float> values;
  std::vector<int> codes;
  for (int code = 0; code < 0x7F; ++code) {
    values.push_back(static_cast<float>(decode(code)));
    codes.push_back(code);
    if (code) {
      values.push_back(-static_cast<float>(decode(code)));
      codes.push_back(code | 0x80);
    }
  }
  const at::Tensor b = ops::e4m3_bytes(at::tensor(values), "t");
  for (size_t i = 0; i < codes.size(); ++i) ASSERT_EQ(b[static_cast<int64_t>(i)].item<uint8_t>(), codes[i]) << values[i];
  EXPECT_TRUE(at::equal(e4m3_values(b), at::tensor(values)));
  EXPECT_TRUE(std::isnan(e4m3_values(at::tensor({0x7F, 0xFF}, at::kByte))[1].item<float>()));
  try {
    ops::e4m3_bytes(at::tensor({1.0f, 1.1f}), "w.weight");
    FAIL() << "1.1 is not an E4M3 value";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("w.weight: value 1.1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::e4m3_bytes(at::tensor({NAN}), "w"), Error);
}

// Per-token (per-row) scales: each row's absmax lands on 448·s exactly, every value on its row's grid.
TEST(Fp8E4m3, FakeQuantWithScalesPerRow) {
  at::manual_seed(2);
  const at::Tensor x = at::randn({5, 64});
  const at::Tensor s = x.abs().amax(-1, true) / 448.0;
  const at::Tensor y = ops::fake_quant_e4m3(x, s);
  EXPECT_TRUE(at::equal(y.abs().amax(-1, true), x.abs().amax(-1, true).div(s).round().mul(s)));
  EXPECT_TRUE(at::equal(ops::fake_quant_e4m3(y, s), y));  // already on every row's grid
  EXPECT_TRUE(at::equal(ops::fake_quant_e4m3(at::zeros({2, 3}), at::zeros({2, 1})), at::zeros({2, 3})));  // scale 0 is taken as 1
}

}  // namespace
}  // namespace quench
