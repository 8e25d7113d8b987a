#include <iostream>
// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/core/grad_mode.h>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "core/io/safetensors.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/util/error.h"

namespace quench::cli {

int cmd_forward(const Argv& argv) {
  Args a("forward", "Runs a model on the inputs of a safetensors file and writes its logits.");
  a.positional("MODEL_DIR", "the model folder");
  a.option("inputs", "IN.safetensors", "holds input_ids (int64 [B, T]) or pixel_values (float32 [B, C, H, W])")->required();
  a.option("out", "OUT.safetensors", "gets float32 'logits' (and hidden states with --hidden-states)")->required();
  a.flag("hidden-states", "also write 'hidden_states.N', numbered as transformers numbers them");
  add_device_options(a);
  add_max_memory_option(a);
  if (!a.parse(argv)) return 0;
  const std::string in_path = a.require("inputs"), out_path = a.require("out");
  LoadOptions opts;
  opts.device = parse_device(*a.get("device"));
  opts.dtype = parse_dtype(*a.get("dtype"));
  opts.max_memory = max_memory_option(a);
  MemoryPlan plan;
  opts.plan = &plan;

  SafetensorsFile in(in_path);
  ModelInputs inputs;
  if (in.contains("input_ids")) {
    inputs.input_ids = in.load("input_ids");
    QUENCH_CHECK(inputs.input_ids.dim() == 2, in_path, ": tensor 'input_ids' must be [B, T], got ", inputs.input_ids.sizes());
    QUENCH_CHECK(inputs.input_ids.numel() > 0, in_path, ": tensor 'input_ids' is empty (", inputs.input_ids.sizes(),
                 "); give at least one token");
    QUENCH_CHECK(!at::isFloatingType(inputs.input_ids.scalar_type()) && inputs.input_ids.scalar_type() != at::kBool,
                 in_path, ": tensor 'input_ids' must hold integers");
    inputs.input_ids = inputs.input_ids.to(at::kLong);
  } else if (in.contains("pixel_values")) {
    inputs.pixel_values = in.load("pixel_values");
    QUENCH_CHECK(inputs.pixel_values.dim() == 4, in_path, ": tensor 'pixel_values' must be [B, C, H, W], got ",
                 inputs.pixel_values.sizes());
    QUENCH_CHECK(at::isFloatingType(inputs.pixel_values.scalar_type()), in_path, ": tensor 'pixel_values' must be floating point");
  } else {
    fail(in_path, ": has neither 'input_ids' nor 'pixel_values'");
  }

  auto model = load_model(a.positional()[0], opts);
  if (opts.max_memory) std::cerr << plan.describe() << "\n";
  if (inputs.input_ids.defined()) {
    QUENCH_CHECK(model->modality() == Modality::Text, in_path, ": input_ids given, but ", model->architecture(), " takes pixel_values");
    const int64_t vocab = model->layers().front()->weight().size(0);
    const auto mn = inputs.input_ids.min().item<int64_t>(), mx = inputs.input_ids.max().item<int64_t>();
    QUENCH_CHECK(mn >= 0 && mx < vocab, in_path, ": input_ids range [", mn, ", ", mx, "] is outside the vocabulary [0, ", vocab, ")");
    model->check_context(inputs.input_ids.size(1), in_path + ": the length of 'input_ids'");
  } else {
    QUENCH_CHECK(model->modality() == Modality::Image, in_path, ": pixel_values given, but ", model->architecture(), " takes input_ids");
    QUENCH_CHECK(inputs.pixel_values.numel() > 0, in_path, ": tensor 'pixel_values' is empty (", inputs.pixel_values.sizes(), ")");
    QUENCH_CHECK(at::isfinite(inputs.pixel_values).all().item<bool>(), in_path, ": tensor 'pixel_values' holds non-finite values");
  }
  ModelOutputs out;
  {
    at::NoGradGuard no_grad;
    out = model->forward(inputs, a.flag("hidden-states"));
  }
  // Weights were checked at load; what is left is overflow in a narrow dtype. No NaN file is written.
  QUENCH_CHECK(at::isfinite(out.logits).all().item<bool>(), a.positional()[0], ": the logits hold non-finite values (",
               c10::toString(opts.dtype), " overflowed in the forward pass); nothing written to ", out_path,
               "; try --dtype float32");
  std::vector<std::pair<std::string, at::Tensor>> tensors{{"logits", out.logits.to(at::kCPU, at::kFloat)}};
  for (size_t i = 0; i < out.hidden_states.size(); ++i)
    tensors.emplace_back("hidden_states." + std::to_string(i), out.hidden_states[i].to(at::kCPU, at::kFloat));
  save_safetensors(out_path, tensors);
  return 0;
}

}  // namespace quench::cli
