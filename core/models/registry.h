#pragma once
// The one list of supported architecture families, and loading a model directory by it.
#include <memory>
#include <string>
#include <vector>

#include "core/models/architecture.h"
#include "core/models/model.h"

namespace quench {

struct ArchitectureInfo {
  const char* name;        // config.json "architectures"[0]
  const char* model_type;  // config.json "model_type"
  const char* gguf_arch;   // llama.cpp's name for it ("" when GGUF cannot hold it)
  Modality modality;
  std::unique_ptr<Model> (*make)(std::shared_ptr<const Checkpoint>);
  const Structure* structure;  // the family's, declared by its architecture file
};

// The architecture files' declarations, in registry order.
const std::vector<const ArchitectureFamily*>& families();
// "Mamba and Mamba-2 (MambaForCausalLM, Mamba2ForCausalLM)": the families whose structure passes
// `has`, for messages that say where a method applies.
std::string families_where(bool (*has)(const Structure&));

// Every supported config name, one entry each, from the architecture files' declarations.
const std::vector<ArchitectureInfo>& architectures();
// The registered architecture of this config name; nullptr when none.
const ArchitectureInfo* find_architecture(const std::string& name);
// Its family's structure; nullptr when the name is not registered.
const Structure* structure_of(const std::string& architecture);
std::string supported_architectures();  // "LlamaForCausalLM, Qwen2ForCausalLM, ..."

struct LoadOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;
  // false: keep tensors as stored, mapped and unread (inspect of a multi-GB checkpoint reads headers only).
  bool materialize = true;
  // Bytes the weights may take on the compute device (0: no limit). A model above it is streamed
  // one block at a time (Model::stream); one whose largest block does not fit is refused before
  // any work. plan, when given, receives the decision (MemoryPlan::describe tells it).
  uint64_t max_memory = 0;
  struct MemoryPlan* plan = nullptr;
};

// path: a checkpoint directory, or a .gguf file (converted once into a cache directory, see
// core/export/gguf_import.h).
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opts = {});

// "cpu", "cuda", "cuda:1" → device, with a clear error when CUDA is absent.
at::Device parse_device(const std::string& s);
at::ScalarType parse_dtype(const std::string& s);  // float32|float16|bfloat16
const char* dtype_string(at::ScalarType t);

}  // namespace quench
