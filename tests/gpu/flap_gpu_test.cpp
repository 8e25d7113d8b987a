// FLAP on CUDA: the same channels and head groups go as on the CPU (the statistics and scores are
// computed on the device), the pruned model's logits agree, and a checkpoint saved from the GPU
// model loads on the CPU with the same logits. Skipped where no GPU is visible.
#include <gtest/gtest.h>

#include <unistd.h>

#include "core/compress/compress.h"
#include "core/compress/flap.h"
#include "core/compress/save_model.h"
#include "core/models/registry.h"
#include "core/util/remove_tree.h"
#include "gpu_util.h"

namespace quench {
namespace {

std::string fixture(const std::string& rel) { return std::string(QUENCH_FIXTURES) + "/" + rel; }

at::Tensor logits(Model& m) {
  at::manual_seed(11);
  ModelInputs in;
  in.input_ids = at::randint(512, {2, 24}, at::kLong);
  at::NoGradGuard ng;
  return m.forward(in).logits.to(at::kCPU);
}

std::unique_ptr<Model> pruned(at::Device device) {
  LoadOptions lo;
  lo.device = device;
  auto m = load_model(fixture("hf-tiny/llama-tiny"), lo);
  const Recipe r = Recipe::parse({{"structured", {{"method", "flap"}, {"ratio", 0.3}, {"target", "mlp+heads"}}}}, "gpu test");
  at::manual_seed(3);
  compress(*m, resolve(r, *m), CalibrationSet::from_token_windows(at::randint(512, {8, 32}, at::kLong), 4));
  return m;
}

TEST(FlapGpu, SameStructureAndLogitsAsCpuAndSavedModelLoadsOnCpu) {
  QUENCH_REQUIRE_CUDA();
  auto cpu = pruned(at::kCPU);
  auto gpu = pruned(at::Device(at::kCUDA, 0));
  for (int64_t b = 0; b < cpu->num_blocks(); ++b) {
    const FlapBlock c = flap_block(*cpu, b), g = flap_block(*gpu, b);
    EXPECT_EQ(g.down->in_features(), c.down->in_features()) << "block " << b;
    EXPECT_EQ(g.q->out_features(), c.q->out_features()) << "block " << b;
    EXPECT_TRUE(at::equal(g.gate->weight().to(at::kCPU), c.gate->weight())) << "the same rows kept, block " << b;
  }
  const at::Tensor ref = logits(*cpu);
  const at::Tensor on_gpu = logits(*gpu);
  EXPECT_TRUE(gpu_test::all_finite(on_gpu));
  EXPECT_LT(gpu_test::rel_fro(on_gpu, ref), 1e-4);

  const std::string dir = "/tmp/quench-flap-gpu-" + std::to_string(::getpid());
  remove_tree(dir);
  save_model(*gpu, dir);
  auto back = load_model(dir);
  EXPECT_LT(gpu_test::rel_fro(logits(*back), ref), 1e-4);
  remove_tree(dir);
}

}  // namespace
}  // namespace quench
