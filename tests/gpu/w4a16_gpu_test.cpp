// The W4A16 kernel (kernels/w4a16.h) against the float64 product of x with the dequantized weight
// (the CPU reference path computes exactly that weight), for every row count up to 16, both half
// types, symmetric and asymmetric grids, groups and one scale per row, and sizes that leave a tile
// or a warp's rows partly empty; and a whole packed model on CUDA against its dense twin.
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include "core/compress/compress.h"
#include "core/compress/rtn.h"
#include "core/models/registry.h"
#include "core/nn/packed_linear.h"
#include "core/ops/w4a16.h"
#include "core/runs/packed_execution.h"
#include "gpu_util.h"

namespace quench {
namespace {

using gpu_test::cuda;

std::unique_ptr<Layer> quantized(const Hooks& hooks, int64_t n, int64_t k, WeightStrategy s, int64_t group, bool symmetric) {
  at::manual_seed(n + k + group);
  auto l = std::make_unique<Layer>("proj", LayerKind::Linear, at::randn({n, k}), at::Tensor(), &hooks);
  WeightQuant w;
  w.bits = 4;
  w.strategy = s;
  w.group_size = group;
  w.symmetric = symmetric;
  RtnInfo info;
  l->set_weight(rtn_quantize(l->weight(), w, &info));
  l->set_encoding(std::make_shared<WeightEncoding>(std::move(info.encoding)));
  return l;
}

TEST(W4A16Gpu, MatchesTheDequantizedProduct) {
  QUENCH_REQUIRE_CUDA();
  Hooks hooks;
  struct Shape {
    int64_t n, k;
    WeightStrategy s;
    int64_t group;
    bool symmetric;
  };
  for (const Shape& sh : {Shape{96, 1024, WeightStrategy::Group, 128, true}, Shape{70, 1088, WeightStrategy::Group, 64, false},
                          Shape{33, 4160, WeightStrategy::Group, 32, true}, Shape{64, 96, WeightStrategy::Channel, 0, false},
                          Shape{256, 2048, WeightStrategy::Channel, 0, true}}) {
    auto l = quantized(hooks, sh.n, sh.k, sh.s, sh.group, sh.symmetric);
    PackedInt4Linear packed(*l);
    packed.to(at::kCUDA, at::kHalf);
    const at::Tensor w64 = l->weight().to(at::kDouble);
    for (const at::ScalarType dt : {at::kHalf, at::kBFloat16})
      for (int64_t m : {1, 2, 3, 4, 5, 8, 11, 16}) {
        const at::Tensor x = at::randn({m, sh.k}).to(dt);
        ASSERT_TRUE(ops::w4a16_on_kernel(x.cuda(), packed.group()));
        const at::Tensor y = packed.forward(x.cuda());
        ASSERT_EQ(y.scalar_type(), dt);
        const at::Tensor truth = x.to(at::kDouble).matmul(w64.t());
        // float32 accumulation, one rounding of the output to the half type.
        const double bound = dt == at::kHalf ? 2e-3 : 8e-3;
        EXPECT_LT(gpu_test::rel_fro(y, truth), bound) << "n " << sh.n << " k " << sh.k << " m " << m << " " << at::toString(dt);
        EXPECT_TRUE(gpu_test::all_finite(y));
      }
    // Beyond 16 rows the dense path runs: the same numbers through a GEMM.
    const at::Tensor x = at::randn({40, sh.k}).to(at::kHalf).cuda();
    EXPECT_FALSE(ops::w4a16_on_kernel(x, packed.group()));
    EXPECT_LT(gpu_test::rel_fro(packed.forward(x), x.to(at::kDouble).cpu().matmul(w64.t())), 2e-3);
  }
}

TEST(W4A16Gpu, PackedModelDecodesLikeTheFakeQuantizedModel) {
  QUENCH_REQUIRE_CUDA();
  at::NoGradGuard ng;
  LoadOptions o;
  o.device = at::Device(at::kCUDA, 0);
  o.dtype = at::kHalf;
  auto model = load_model(std::string(QUENCH_FIXTURES) + "/hf-tiny/llama-tiny", o);
  at::manual_seed(5);
  const auto calib = CalibrationSet::from_token_windows(at::randint(0, 512, {4, 24}, at::kLong), 4);
  // The down projection's 176 inputs are no whole number of 32-groups: per channel, and dense.
  compress(*model,
           resolve(Recipe::parse(nlohmann::json::parse(R"({"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 32}},
                                                           "overrides": [{"match": "*.down_proj", "weights": {"bits": 8, "strategy": "channel"}}]})")),
                   *model),
           calib);
  const auto ids = calib.batches.front().input_ids.narrow(0, 0, 1).to(o.device);
  auto run = [&] {
    Model::DecodeCache cache;
    std::vector<at::Tensor> parts = {model->decode(ids.narrow(1, 0, 9), cache)};
    for (int64_t t = 9; t < ids.size(1); ++t) parts.push_back(model->decode(ids.narrow(1, t, 1), cache));
    return at::cat(parts, 1);
  };
  const at::Tensor dense = run();
  PackedExecution packed(*model);
  EXPECT_GT(packed.packed(), 0);
  const at::Tensor p = run();
  // Both run the same weights; only the float16 rounding of the dense weight and the order of
  // accumulation differ.
  EXPECT_LT(gpu_test::rel_fro(p, dense), 5e-3);
}

}  // namespace
}  // namespace quench
