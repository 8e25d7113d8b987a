#pragma once
// Factories of the architecture files; the registry (registry.cpp) is the only caller.
#include <memory>

#include "core/models/model.h"

namespace quench {
std::unique_ptr<Model> make_llama(std::shared_ptr<const Checkpoint> ckpt);  // Llama, Qwen2, Mistral
std::unique_ptr<Model> make_gpt2(std::shared_ptr<const Checkpoint> ckpt);
std::unique_ptr<Model> make_mamba(std::shared_ptr<const Checkpoint> ckpt);
std::unique_ptr<Model> make_mamba2(std::shared_ptr<const Checkpoint> ckpt);
std::unique_ptr<Model> make_vit(std::shared_ptr<const Checkpoint> ckpt);
std::unique_ptr<Model> make_resnet(std::shared_ptr<const Checkpoint> ckpt);
}  // namespace quench
