// Every fixture's logits and hidden states match what transformers computed, in float32.
#include <gtest/gtest.h>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/core/grad_mode.h>

#include <filesystem>

#include "core/io/safetensors.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, LogitsAndHiddenStatesMatchTransformers) {
  const std::string dir = test::fixture("hf-tiny/" + GetParam());
  auto ref = load_all_safetensors(dir + "/reference.safetensors");
  auto model = load_model(dir);
  ModelInputs in;
  if (ref.count("input_ids")) in.input_ids = ref["input_ids"];
  else in.pixel_values = ref["pixel_values"];
  at::NoGradGuard ng;
  auto out = model->forward(in, true);
  EXPECT_LE(test::rel_error(out.logits, ref["logits"]), 1e-4) << GetParam() << " logits";
  size_t n = 0;
  while (ref.count("hidden_states." + std::to_string(n))) ++n;
  ASSERT_EQ(out.hidden_states.size(), n) << GetParam();
  for (size_t i = 0; i < n; ++i)
    EXPECT_LE(test::rel_error(out.hidden_states[i], ref["hidden_states." + std::to_string(i)]), 1e-4)
        << GetParam() << " hidden_states." << i;
}

INSTANTIATE_TEST_SUITE_P(HfTiny, Parity, ::testing::ValuesIn(test::reference_fixtures()),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace quench
