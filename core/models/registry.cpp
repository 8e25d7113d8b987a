#include "core/models/registry.h"

#include <ATen/Context.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/ones.h>
#include <torch/version.h>

#include "core/export/gguf_import.h"
#include "core/models/architectures.h"
#include "core/util/error.h"

namespace quench {

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> table = {
      {"LlamaForCausalLM", "llama", Modality::Text, make_llama},
      {"Qwen2ForCausalLM", "qwen2", Modality::Text, make_llama},
      {"MistralForCausalLM", "mistral", Modality::Text, make_llama},
      {"GPT2LMHeadModel", "gpt2", Modality::Text, make_gpt2},
      {"MambaForCausalLM", "mamba", Modality::Text, make_mamba},
      {"Mamba2ForCausalLM", "mamba2", Modality::Text, make_mamba2},
      {"ViTForImageClassification", "vit", Modality::Image, make_vit},
      {"ResNetForImageClassification", "resnet", Modality::Image, make_resnet},
  };
  return table;
}

std::string supported_architectures() {
  std::string s;
  for (const auto& a : architectures()) s += (s.empty() ? "" : ", ") + std::string(a.name);
  return s;
}

namespace {
// Debian's libtorch 1.13 has no float16 matmul on the CPU; it would fail deep inside the first
// forward with "addmm_impl_cpu_ not implemented for 'Half'". Ask libtorch once instead of
// hard-coding versions.
bool cpu_has_half_matmul() {
  static const bool ok = [] {
    try {
      const auto a = at::ones({2, 2}, at::TensorOptions().dtype(at::kHalf));
      (void)at::addmm(a, a, a);
      return true;
    } catch (const c10::Error&) {
      return false;
    }
  }();
  return ok;
}
}  // namespace

std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opts) {
  if (opts.materialize && opts.device.is_cpu() && opts.dtype == at::kHalf && !cpu_has_half_matmul())
    throw UsageError("float16 on the CPU is not supported by this libtorch " TORCH_VERSION
                     "; use --dtype bfloat16 or float32 on the CPU, or --device cuda");
  auto ckpt = std::make_shared<const Checkpoint>(resolve_model_path(path));
  const auto& cfg = ckpt->config();
  std::string arch = cfg.architecture();
  const ArchitectureInfo* info = nullptr;
  for (const auto& a : architectures())
    if (arch == a.name || (!cfg.has("architectures") && arch == a.model_type)) info = &a;
  QUENCH_CHECK(info, cfg.path(), ": architecture '", arch, "' is not supported; supported: ", supported_architectures());
  auto model = info->make(ckpt);
  if (opts.materialize) model->to(opts.device, opts.dtype);
  return model;
}

at::Device parse_device(const std::string& s) {
  if (s == "cpu") return at::kCPU;
  if (s.rfind("cuda", 0) == 0) {
    QUENCH_CHECK(at::hasCUDA(), "device '", s, "': this build of libtorch has no CUDA support (or no GPU is visible)");
    int idx = 0;
    if (s.size() > 4) {
      QUENCH_CHECK(s[4] == ':' && s.size() > 5, "device '", s, "' is not of the form cuda or cuda:N");
      idx = std::stoi(s.substr(5));
    }
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(idx));
  }
  throw UsageError("unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
}

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32" || s == "fp32" || s == "f32") return at::kFloat;
  if (s == "float16" || s == "fp16" || s == "f16" || s == "half") return at::kHalf;
  if (s == "bfloat16" || s == "bf16") return at::kBFloat16;
  throw UsageError("unknown dtype '" + s + "' (expected float32, float16 or bfloat16)");
}

const char* dtype_string(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    default: return "other";
  }
}

}  // namespace quench
