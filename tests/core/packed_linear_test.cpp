// Packed int4 execution (core/nn/packed_linear.h, core/runs/packed_execution.h): the integers
// packed from a quantized layer give back exactly its fake-quantized weight, so on the CPU the
// packed path's outputs equal the dense layer's bit for bit; what cannot be packed is named.
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include "core/compress/compress.h"
#include "core/compress/rtn.h"
#include "core/models/registry.h"
#include "core/nn/packed_linear.h"
#include "core/runs/packed_execution.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

WeightQuant w4(WeightStrategy s, int64_t group, bool symmetric) {
  WeightQuant w;
  w.bits = 4;
  w.strategy = s;
  w.group_size = group;
  w.symmetric = symmetric;
  return w;
}

// A Linear quantized by RTN as the pipeline does it: fake-quantized weight plus its encoding.
std::unique_ptr<Layer> quantized_linear(const Hooks& hooks, const WeightQuant& setting, int64_t out = 40, int64_t in = 192, bool bias = false) {
  at::manual_seed(11);
  auto l = std::make_unique<Layer>("proj", LayerKind::Linear, at::randn({out, in}), bias ? at::randn({out}) : at::Tensor(), &hooks);
  RtnInfo info;
  l->set_weight(rtn_quantize(l->weight(), setting, &info));
  l->set_encoding(std::make_shared<WeightEncoding>(std::move(info.encoding)));
  return l;
}

TEST(PackedInt4Linear, EqualsTheFakeQuantizedLayerOnTheCpu) {
  Hooks hooks;
  for (const WeightQuant& s : {w4(WeightStrategy::Group, 32, true), w4(WeightStrategy::Group, 64, false), w4(WeightStrategy::Channel, 0, true),
                               w4(WeightStrategy::Channel, 0, false), w4(WeightStrategy::Tensor, 0, false)}) {
    auto l = quantized_linear(hooks, s);
    ASSERT_EQ(PackedInt4Linear::unsupported(*l), "") << s.describe();
    auto packed = std::make_shared<PackedInt4Linear>(*l);
    EXPECT_TRUE(at::equal(packed->dense_weight(), l->weight())) << s.describe();
    // Half a byte per weight, float32 scales (and int32 zeros) per group: one group per row unless grouped.
    const int64_t groups = s.strategy == WeightStrategy::Group ? 192 / s.group_size : 1;
    EXPECT_EQ(packed->bytes(), 40 * 192 / 2 + 40 * groups * 4 * (s.symmetric ? 1 : 2)) << s.describe();
    const at::Tensor x = at::randn({3, 5, 192});
    const at::Tensor dense = l->compute(x);
    l->set_runtime(packed);
    const at::Tensor y = l->compute(x);
    EXPECT_EQ(y.sizes(), dense.sizes());
    EXPECT_TRUE(at::equal(y, dense)) << s.describe();
    // A new weight makes the packed integers stale: the runtime goes with the old weight.
    l->set_weight(l->weight() * 2);
    EXPECT_EQ(l->runtime(), nullptr);
  }
  // With a bias: added after the product (the dense layer fuses it, so equal up to rounding).
  auto b = quantized_linear(hooks, w4(WeightStrategy::Group, 32, true), 40, 192, /*bias=*/true);
  const at::Tensor x = at::randn({7, 192});
  const at::Tensor dense = b->compute(x);
  b->set_runtime(std::make_shared<PackedInt4Linear>(*b));
  EXPECT_TRUE(at::allclose(b->compute(x), dense, 1e-5, 1e-5));
}

TEST(PackedInt4Linear, WhatCannotBePackedIsNamed) {
  Hooks hooks;
  WeightQuant w8 = w4(WeightStrategy::Group, 32, true);
  w8.bits = 8;
  EXPECT_NE(PackedInt4Linear::unsupported(*quantized_linear(hooks, w8)).find("8-bit"), std::string::npos);
  EXPECT_NE(PackedInt4Linear::unsupported(*quantized_linear(hooks, w4(WeightStrategy::Group, 48, true))).find("groups of 48"), std::string::npos);
  EXPECT_NE(PackedInt4Linear::unsupported(*quantized_linear(hooks, w4(WeightStrategy::Channel, 0, true), 8, 40)).find("40 inputs"),
            std::string::npos);
  Layer plain("plain", LayerKind::Linear, at::randn({8, 64}), at::Tensor(), &hooks);
  EXPECT_NE(PackedInt4Linear::unsupported(plain).find("not quantized"), std::string::npos);
  // A weight edited after quantizing no longer lies on its grid: refused, naming the layer.
  auto l = quantized_linear(hooks, w4(WeightStrategy::Group, 32, true));
  auto enc = std::make_shared<WeightEncoding>(*l->encoding());
  l->set_weight(l->weight() + 0.3);
  l->set_encoding(enc);
  try {
    PackedInt4Linear p(*l);
    FAIL() << "an off-grid weight was packed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("proj"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("grid"), std::string::npos) << e.what();
  }
}

TEST(PackedExecution, ModelLogitsEqualTheFakeQuantizedModel) {
  at::NoGradGuard ng;
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  at::manual_seed(5);
  const auto calib = CalibrationSet::from_token_windows(at::randint(0, 512, {4, 24}, at::kLong), 4);
  const Recipe recipe = Recipe::parse(nlohmann::json::parse(
      R"({"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 32, "method": "gptq"}},
          "overrides": [{"match": "*.down_proj", "weights": {"bits": 8, "strategy": "channel"}}]})"));
  compress(*model, resolve(recipe, *model), calib);
  const at::Tensor dense = model->forward(calib.batches.front()).logits;
  {
    PackedExecution packed(*model);
    // q, k, v, o, gate, up in each block (the head stays float in the default recipe); down_proj is 8-bit.
    EXPECT_EQ(packed.packed(), 6 * model->num_blocks());
    ASSERT_EQ(packed.dense().size(), static_cast<size_t>(model->num_blocks()));
    EXPECT_NE(packed.dense().front().second.find("8-bit"), std::string::npos);
    EXPECT_NE(packed.summary().find("packed int4"), std::string::npos);
    EXPECT_TRUE(at::equal(model->forward(calib.batches.front()).logits, dense));
  }
  for (const auto& l : model->layers()) EXPECT_EQ(l->runtime(), nullptr) << l->name();
}

}  // namespace
}  // namespace quench
