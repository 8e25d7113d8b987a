// On CUDA: a model streamed one block at a time from its mapped checkpoint (blocks converted onto
// the GPU while they run) computes what the model loaded whole computes, and the chunked Mamba-2
// scan CUDA runs equals the CPU recurrence. Skipped where no GPU is visible.
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/io/safetensors.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/nn/scan.h"
#include "gpu_util.h"

namespace quench {
namespace {

std::string fixture(const std::string& rel) { return std::string(QUENCH_FIXTURES) + "/" + rel; }

class StreamingGpu : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamingGpu, StreamedEqualsWholeOnCuda) {
  QUENCH_REQUIRE_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  const std::string dir = fixture("hf-tiny/" + GetParam());
  auto ref = load_all_safetensors(dir + "/reference.safetensors");
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    LoadOptions o;
    o.device = at::Device(at::kCUDA, 0);
    o.dtype = dtype;
    auto whole = load_model(dir, o);
    LoadOptions lazy;
    lazy.materialize = false;
    o.max_memory = plan_memory(*load_model(dir, lazy), dtype, 0).streamed_peak();
    MemoryPlan plan;
    o.plan = &plan;
    auto streamed = load_model(dir, o);
    ASSERT_TRUE(plan.stream && streamed->streaming()) << plan.describe();
    ModelInputs in;
    if (ref.count("input_ids")) in.input_ids = ref["input_ids"].to(o.device);
    else in.pixel_values = ref["pixel_values"].to(o.device);
    at::NoGradGuard ng;
    const auto a = whole->forward(in).logits, b = streamed->forward(in).logits;
    ASSERT_TRUE(b.is_cuda());
    EXPECT_LE(gpu_test::rel_fro(b, a), 1e-6) << GetParam() << " " << dtype_string(dtype);
  }
}

std::vector<std::string> fixtures() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(fixture("hf-tiny")))
    if (std::filesystem::exists(e.path() / "reference.safetensors")) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(HfTiny, StreamingGpu, ::testing::ValuesIn(fixtures()), [](const auto& info) {
  std::string s = info.param;
  for (auto& c : s)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
});

TEST(SsdChunkedGpu, EqualsTheCpuRecurrence) {
  QUENCH_REQUIRE_CUDA();
  at::globalContext().setAllowTF32CuBLAS(false);
  at::manual_seed(9);
  const int64_t Bn = 2, L = 300, H = 8, P = 16, G = 2, N = 32;
  const at::Tensor x = at::randn({Bn, L, H, P}), dt = at::softplus(at::randn({Bn, L, H}) * 2 - 1), A = -at::exp(at::rand({H}) * 2);
  const at::Tensor Bm = at::randn({Bn, L, G, N}), C = at::randn({Bn, L, G, N}), D = at::randn({H});
  const at::Tensor ref = ssd_scan(x, dt, A, Bm, C, D);  // the CPU loop
  const auto cu = gpu_test::cuda();
  const at::Tensor got = ssd_scan(x.to(cu), dt.to(cu), A.to(cu), Bm.to(cu), C.to(cu), D.to(cu));
  ASSERT_TRUE(got.is_cuda());
  EXPECT_LE(gpu_test::rel_fro(got, ref), 1e-5);
}

}  // namespace
}  // namespace quench
