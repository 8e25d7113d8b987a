#pragma once
// Hugging Face parameter names ↔ GGUF tensor names, read in both directions from the table each
// architecture file declares (Structure::gguf_tensors): by the exporter (HF → GGUF) and the
// importer (GGUF → HF). Also llama's q/k row order, which both sides must agree on.
#include <ATen/ATen.h>

#include <string>

namespace quench {

// The llama.cpp architecture of a Hugging Face model_type ("" when Quench maps none).
std::string gguf_arch_of_model_type(const std::string& model_type);
// The registered config name llama.cpp's architecture stands for ("llama" → LlamaForCausalLM: the
// first registered name that writes as it); "" when none.
std::string hf_architecture_of_gguf(const std::string& arch);
// Whether Quench maps this llama.cpp architecture (llama, qwen2, qwen3, gpt2, mamba, mamba2).
bool gguf_arch_supported(const std::string& arch);

// HF parameter name → GGUF tensor name ("" when the table has none). GPT-2 names are accepted
// with or without the "transformer." prefix.
std::string gguf_tensor_name(const std::string& arch, const std::string& hf);
// GGUF tensor name → HF parameter name as transformers saves it ("" when the table has none).
std::string hf_tensor_name(const std::string& arch, const std::string& gguf);

// llama.cpp rotates adjacent pairs (2i, 2i+1) where transformers' Llama rotates halves (i, i+D/2):
// the converter reorders each head's rows so the two agree. Row r' of the GGUF tensor is HF row
// perm[r']; the inverse (GGUF → HF) is at::argsort(perm).
at::Tensor qk_row_order(int64_t rows, int64_t heads);

}  // namespace quench
