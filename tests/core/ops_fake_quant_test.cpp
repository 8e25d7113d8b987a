// CPU reference of the quantization ops against the formulas written out with libtorch ops.
#include <gtest/gtest.h>

#include "core/ops/fake_quant.h"
#include "core/util/error.h"

namespace quench {
namespace {

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

// The METHODS.md formulas on [R, C] with torch ops; ranges taken per "slot" along dim 1 of a
// [R', S] reshape (padding a ragged last group with copies of its first value).
struct Expected {
  at::Tensor q, xhat, scale, zero;
};

Expected expected(const at::Tensor& x2, const QuantSpec& s) {
  const int64_t R = x2.size(0), C = x2.size(1);
  at::Tensor lo, hi;  // per element: the range of its slot, [R, C]
  auto bcast = [&](const at::Tensor& mn, const at::Tensor& mx, auto expand) {
    lo = expand(mn);
    hi = expand(mx);
  };
  at::Tensor smn, smx;
  switch (s.granularity) {
    case Granularity::Tensor:
      smn = x2.min().view({1}), smx = x2.max().view({1});
      bcast(smn, smx, [&](const at::Tensor& t) { return t.view({1, 1}).expand({R, C}); });
      break;
    case Granularity::Row:
      smn = x2.amin(1), smx = x2.amax(1);
      bcast(smn, smx, [&](const at::Tensor& t) { return t.view({R, 1}).expand({R, C}); });
      break;
    case Granularity::Column:
      smn = x2.amin(0), smx = x2.amax(0);
      bcast(smn, smx, [&](const at::Tensor& t) { return t.view({1, C}).expand({R, C}); });
      break;
    case Granularity::Group: {
      const int64_t g = s.group_size, G = (C + g - 1) / g;
      auto pad = at::cat({x2, x2.narrow(1, (G - 1) * g, 1).expand({R, G * g - C})}, 1).view({R, G, g});
      smn = pad.amin(2), smx = pad.amax(2);
      bcast(smn, smx, [&](const at::Tensor& t) {
        return t.unsqueeze(2).expand({R, G, g}).reshape({R, G * g}).narrow(1, 0, C);
      });
      break;
    }
  }
  Expected e;
  if (s.symmetric) {
    const double qmax = (1 << (s.bits - 1)) - 1;
    auto am = at::maximum(lo.abs(), hi.abs());
    // Tensor divisors throughout: libtorch may turn division by a scalar into a multiplication by
    // its reciprocal, which rounds differently from the formula.
    auto sc = am / at::full_like(am, qmax);
    sc = at::where(sc > 0, sc, at::ones_like(sc));
    e.q = at::clamp(at::round(x2 / sc), -(qmax + 1), qmax);
    e.xhat = e.q * sc;
    e.scale = sc;
  } else {
    const double qmax = (1 << s.bits) - 1;
    auto mn = at::clamp_max(lo, 0), mx = at::clamp_min(hi, 0);
    auto sc = (mx - mn) / at::full_like(mx, qmax);
    sc = at::where(sc > 0, sc, at::ones_like(sc));
    auto z = at::clamp(at::round(-mn / sc), 0, qmax);
    e.q = at::clamp(at::round(x2 / sc) + z, 0, qmax);
    e.xhat = (e.q - z) * sc;
    e.scale = sc;
    e.zero = z;
  }
  return e;
}

TEST(FakeQuant, MatchesFormulasForEveryGranularity) {
  at::manual_seed(10);
  for (auto g : {Granularity::Tensor, Granularity::Row, Granularity::Column, Granularity::Group})
    for (bool sym : {true, false})
      for (int bits : {2, 3, 4, 8}) {
        auto x = at::randn({13, 70}) * 2 + 0.3;
        auto s = spec(bits, sym, g, g == Granularity::Group ? 16 : 0);  // 70 = 4·16 + 6: a ragged last group
        auto e = expected(x, s);
        auto got = ops::quantize(x, s);
        EXPECT_EQ(got.q.scalar_type(), sym ? at::kChar : at::kByte);
        EXPECT_TRUE(at::equal(got.q.to(at::kFloat), e.q)) << "bits " << bits << " sym " << sym << " g " << int(g);
        auto fq = ops::fake_quant(x, s);
        EXPECT_TRUE(at::equal(fq, e.xhat)) << "bits " << bits << " sym " << sym << " g " << int(g);
        // Round trip: dequantize(quantize(x)) is fake_quant(x), and errors stay within half a step.
        auto dq = ops::dequantize(got.q, got.params, s);
        EXPECT_TRUE(at::equal(dq, fq));
        EXPECT_TRUE(((x - fq).abs() <= e.scale * 0.5 + 1e-6).all().item<bool>()) << "bits " << bits;
        EXPECT_EQ(got.params.scale.sizes().vec(), ops::qparams_shape(x, s));
      }
}

TEST(FakeQuant, GivenParamsAreUsedAsIs) {
  at::manual_seed(11);
  auto x = at::randn({4, 6});
  auto s = spec(4, false, Granularity::Column);
  ops::QuantParams p;
  p.scale = at::full({6}, 0.25);
  p.zero = at::full({6}, 8, at::kInt);
  auto q = ops::quantize(x, p, s);
  auto want = at::clamp(at::round(x / at::full_like(x, 0.25)) + 8, 0, 15);
  EXPECT_TRUE(at::equal(q.to(at::kFloat), want));
  EXPECT_TRUE(at::equal(ops::fake_quant(x, p, s), (want - 8) * 0.25));
}

TEST(FakeQuant, HalfInputsRoundLikeFloatThenConvert) {
  at::manual_seed(12);
  auto x = at::randn({32, 64}).to(at::kHalf);
  auto s = spec(4, true, Granularity::Group, 32);
  auto fq = ops::fake_quant(x, s);
  EXPECT_EQ(fq.scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(fq, ops::fake_quant(x.to(at::kFloat), s).to(at::kHalf)));
}

TEST(FakeQuant, PerTokenIsPerRowOverTheLastDim) {
  at::manual_seed(13);
  auto x = at::randn({2, 5, 16});
  auto fq = ops::fake_quant_per_token(x, 8);
  auto want = ops::fake_quant(x.view({10, 16}), spec(8, true, Granularity::Row)).view({2, 5, 16});
  EXPECT_TRUE(at::equal(fq, want));
  // Each token's absmax survives exactly (it maps to ±127·s).
  EXPECT_TRUE(at::allclose(fq.abs().amax(-1), x.abs().amax(-1), 1e-6, 1e-7));
}

TEST(FakeQuant, ConstantAndZeroTensorsRoundTrip) {
  auto z = at::zeros({3, 5});
  EXPECT_TRUE(at::equal(ops::fake_quant(z, spec(4, true, Granularity::Row)), z));
  EXPECT_TRUE(at::equal(ops::fake_quant(z, spec(4, false, Granularity::Row)), z));
  auto c = at::full({2, 4}, 3.0);
  EXPECT_TRUE(at::allclose(ops::fake_quant(c, spec(8, false, Granularity::Tensor)), c, 0, 3.0 / 255));
}

TEST(FakeQuant, ClipShrinksTheRange) {
  auto x = at::tensor({-1.f, 0.5f, 1.f}).view({1, 3});
  auto s = spec(8, true, Granularity::Tensor);
  s.clip = 0.5;
  auto p = ops::compute_qparams(x, s);
  EXPECT_FLOAT_EQ(p.scale.item<float>(), 0.5f / 127);
  EXPECT_TRUE(at::equal(ops::fake_quant(x, s), at::tensor({-128.f, 127.f, 127.f}).view({1, 3}) * p.scale));
}

TEST(FakeQuant, RejectsBadArguments) {
  auto x = at::randn({4, 8});
  EXPECT_THROW(ops::fake_quant(x, spec(1, true, Granularity::Row)), Error);
  EXPECT_THROW(ops::fake_quant(x, spec(9, true, Granularity::Row)), Error);
  EXPECT_THROW(ops::fake_quant(x, spec(4, true, Granularity::Group, 0)), Error);
  ops::QuantParams p;
  p.scale = at::ones({3});  // 4 rows need 4
  EXPECT_THROW(ops::fake_quant(x, p, spec(4, true, Granularity::Row)), Error);
  p.scale = at::ones({4});
  EXPECT_THROW(ops::fake_quant(x, p, spec(4, false, Granularity::Row)), Error);  // zeros missing
  EXPECT_THROW(ops::fake_quant(x.to(at::kInt), spec(4, true, Granularity::Row)), Error);
  auto out = at::empty({4, 8}, at::kHalf);
  EXPECT_THROW(ops::fake_quant_out(x, spec(4, true, Granularity::Row), out), Error);
}

TEST(Pack, Int4LayoutIsLowBitsFirstWithOffset) {
  // Signed int4 q = -8..7 → stored q + 8 = 0..15; word 0 holds columns 0..7, column k at bits 4k.
  auto q = at::arange(-8, 8, at::kChar).view({1, 16});
  auto packed = ops::pack_int32(q, 4);
  ASSERT_EQ(packed.sizes(), at::IntArrayRef({1, 2}));
  EXPECT_EQ(static_cast<uint32_t>(packed[0][0].item<int32_t>()), 0x76543210u);
  EXPECT_EQ(static_cast<uint32_t>(packed[0][1].item<int32_t>()), 0xFEDCBA98u);
}

TEST(Pack, RoundTripsEveryWidthWithRaggedRows) {
  at::manual_seed(14);
  for (int bits = 2; bits <= 8; ++bits) {
    const int64_t cols = 37;
    auto qs = at::randint(-(1 << (bits - 1)), 1 << (bits - 1), {5, cols}, at::kChar);
    auto ps = ops::pack_int32(qs, bits);
    EXPECT_EQ(ps.size(1), (cols + 32 / bits - 1) / (32 / bits));
    EXPECT_TRUE(at::equal(ops::unpack_int32(ps, bits, cols, true), qs)) << bits;
    auto qu = at::randint(0, 1 << bits, {5, cols}, at::kByte);
    EXPECT_TRUE(at::equal(ops::unpack_int32(ops::pack_int32(qu, bits), bits, cols, false), qu)) << bits;
    // Packing is the compressed-tensors sum of shifted unsigned values.
    const int64_t per = 32 / bits, W = ps.size(1);
    auto u = at::constant_pad_nd(qs.to(at::kLong) + (1 << (bits - 1)), {0, W * per - cols}).view({5, W, per});
    auto shifts = at::arange(per, at::kLong) * bits;
    auto want = (u * at::pow(2, shifts.to(at::kDouble)).to(at::kLong)).sum(2);
    EXPECT_TRUE(at::equal(ps.to(at::kLong).bitwise_and(int64_t{0xFFFFFFFF}), want.bitwise_and(int64_t{0xFFFFFFFF}))) << bits;
  }
  EXPECT_THROW(ops::unpack_int32(at::zeros({1, 2}, at::kInt), 4, 17), Error);
}

}  // namespace
}  // namespace quench
