#include "core/models/registry.h"

#include <ATen/Context.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/ones.h>
#include <torch/version.h>

#include <set>

#include "core/export/gguf_import.h"
#include "core/models/memory_plan.h"
#include "core/util/error.h"

namespace quench {

// Each architecture file declares its family (core/models/architecture.h); one line each here.
const ArchitectureFamily& llama_family();  // Llama, Qwen2, Qwen3, Mistral
const ArchitectureFamily& gpt2_family();
const ArchitectureFamily& mamba_family();
const ArchitectureFamily& mamba2_family();
const ArchitectureFamily& vit_family();
const ArchitectureFamily& resnet_family();

const std::vector<const ArchitectureFamily*>& families() {
  static const std::vector<const ArchitectureFamily*> list = {&llama_family(), &gpt2_family(), &mamba_family(),
                                                              &mamba2_family(), &vit_family(),  &resnet_family()};
  return list;
}

std::string families_where(bool (*has)(const Structure&)) {
  std::vector<std::string> titles, names;
  for (const ArchitectureFamily* f : families()) {
    if (!has(f->structure)) continue;
    titles.push_back(f->title);
    for (const auto& n : f->names) names.push_back(n.name);
  }
  std::string s;
  for (size_t i = 0; i < titles.size(); ++i) s += (i == 0 ? "" : i + 1 == titles.size() ? " and " : ", ") + titles[i];
  std::string n;
  for (const auto& x : names) n += (n.empty() ? "" : ", ") + x;
  return s.empty() ? "no supported architecture" : s + " (" + n + ")";
}

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> table = [] {
    std::vector<ArchitectureInfo> t;
    for (const ArchitectureFamily* f : families())
      for (const auto& n : f->names) t.push_back({n.name, n.model_type, n.gguf_arch, f->modality, f->make, &f->structure});
    return t;
  }();
  return table;
}

const ArchitectureInfo* find_architecture(const std::string& name) {
  for (const auto& a : architectures())
    if (name == a.name) return &a;
  return nullptr;
}

const Structure* structure_of(const std::string& architecture) {
  const ArchitectureInfo* a = find_architecture(architecture);
  return a ? a->structure : nullptr;
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
// One rule for every command and the window: a model whose weights hold NaN or ±Inf is refused
// when it is loaded, naming the tensor, instead of producing -nan perplexities and NaN logits.
// The stored tensor is looked at again to tell a corrupt file from a conversion overflow
// (bfloat16 weights beyond 65504 become Inf in float16).
// Whether every value of t is finite, also once converted to `as`. Slices of rows keep the
// converted copy small (a streamed model's weights are checked as stored).
bool all_finite_as(const at::Tensor& t, at::ScalarType as, const std::function<void()>& between_slices) {
  if (t.dim() == 0 || t.numel() == 0) return at::isfinite(t.to(as)).all().item<bool>();
  const int64_t rows = t.size(0);
  const int64_t step = std::max<int64_t>(1, (int64_t(16) << 20) / std::max<int64_t>(1, t.numel() / rows));
  for (int64_t r = 0; r < rows; r += step) {
    if (!at::isfinite(t.narrow(0, r, std::min(step, rows - r)).to(as)).all().item<bool>()) return false;
    if (between_slices) between_slices();
  }
  return true;
}

void check_finite(const Model& model) {
  std::set<const void*> seen;  // a tied head shares the embedding's storage: one pass over it
  const auto& ck = model.checkpoint();
  auto check = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined() || !at::isFloatingType(t.scalar_type()) || !seen.insert(t.data_ptr()).second) return;
    std::function<void()> release;
    if (model.streaming()) release = [&ck] { ck.release_pages(); };
    if (all_finite_as(t, model.dtype(), release)) return;
    const at::Tensor as = t.to(model.dtype());
    const int64_t bad = as.numel() - at::isfinite(as).sum().item<int64_t>();
    const bool stored_ok = ck.has(name) && [&] {
      const at::Tensor s = ck.load(name);
      return !at::isFloatingType(s.scalar_type()) || at::isfinite(s).all().item<bool>();
    }();
    if (stored_ok)
      fail(ck.dir(), ": tensor '", name, "' has ", bad, " values that overflow ", c10::toString(model.dtype()),
           " (they are finite as stored); load the model in a wider dtype (--dtype float32 or bfloat16)");
    fail(ck.dir(), ": tensor '", name, "' holds ", bad, " non-finite values (NaN or ±Inf); Quench does not run models with "
         "non-finite weights");
  };
  for (const auto& l : model.layers()) {
    check(l->name() + ".weight", l->weight());
    check(l->name() + ".bias", l->bias());
  }
  for (const auto& [name, t] : model.params()) check(name, t);
}

// Weights and biases are computed with: an integer or boolean one (an I16 or U8 tensor in a plain
// safetensors checkpoint) would fail deep inside the first matmul without a name.
void check_float(const Model& model) {
  const auto& ck = model.checkpoint();
  auto check = [&](const std::string& name, const at::Tensor& t) {
    if (!t.defined() || at::isFloatingType(t.scalar_type())) return;
    const std::string stored = ck.has(name) ? ck.info(name).dtype_name : std::string(c10::toString(t.scalar_type()));
    fail(ck.dir(), ": tensor '", name, "' is stored as ", stored, "; Quench reads weights stored as F32, F16 or BF16, or "
         "quantized as compressed-tensors or GGUF (a plain integer weight has no scale to read it with)");
  };
  for (const auto& l : model.layers()) {
    check(l->name() + ".weight", l->weight());
    check(l->name() + ".bias", l->bias());
  }
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
  check_float(*model);
  if (opts.materialize) {
    const MemoryPlan plan = plan_memory(*model, opts.dtype, opts.max_memory);
    if (opts.plan) *opts.plan = plan;
    if (plan.stream) model->stream(opts.device, opts.dtype);
    else model->to(opts.device, opts.dtype);
    check_finite(*model);
  }
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
