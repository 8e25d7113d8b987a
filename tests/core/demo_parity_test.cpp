// The bundled demo models give the logits transformers computed for them (float32, CPU), on
// real text and real digits (tests/fixtures/demo-reference, made by make_references.py).
#include <gtest/gtest.h>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/core/grad_mode.h>

#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

class DemoParity : public ::testing::TestWithParam<std::string> {};

TEST_P(DemoParity, LogitsMatchTransformers) {
  auto ref = load_all_safetensors(test::fixture("demo-reference/" + GetParam() + ".safetensors"));
  auto model = load_model(test::demo(GetParam()));
  ModelInputs in;
  if (ref.count("input_ids")) in.input_ids = ref["input_ids"];
  else in.pixel_values = ref["pixel_values"];
  at::NoGradGuard ng;
  auto logits = model->forward(in).logits;
  const double err = test::rel_error(logits, ref["logits"]);
  RecordProperty("rel_error", std::to_string(err));
  EXPECT_LE(err, 1e-4) << GetParam();
  // Same argmax everywhere: what accuracy and perplexity depend on.
  EXPECT_TRUE(at::equal(logits.argmax(-1), ref["logits"].argmax(-1))) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Demo, DemoParity, ::testing::Values("sotu-llama", "sotu-mamba2", "mnist-vit", "mnist-resnet"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (auto& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace quench
