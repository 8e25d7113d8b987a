#pragma once
// Building blocks shared by the architectures; each matches the transformers op it names.
#include <ATen/ATen.h>

#include <string>

#include "core/io/config.h"

namespace quench {

// LlamaRMSNorm / MambaRMSNorm: statistics in float32, weight applied in the input dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);
// MambaRMSNormGated (Mamba-2): x·silu(gate), then RMS-normalized per group of group_size channels.
at::Tensor gated_rms_norm(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& weight, double eps,
                          int64_t group_size);
at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);
// hidden_act names as transformers spells them (silu, gelu, gelu_new, gelu_pytorch_tanh, relu, ...).
at::Tensor activation(const at::Tensor& x, const std::string& name);
bool is_known_activation(const std::string& name);

// Rotary embeddings (rotate-half convention, as Llama/Qwen2/Mistral in transformers).
struct Rope {
  at::Tensor inv_freq;  // F32 [rotary_dim/2]
  double attention_scaling = 1.0;
  int64_t rotary_dim = 0;
};
// Reads rope_parameters (transformers 5) or rope_theta / rope_scaling (older configs).
Rope make_rope(const Config& cfg, int64_t head_dim);
// cos, sin: [T, rotary_dim] in dtype on device.
std::pair<at::Tensor, at::Tensor> rope_tables(const Rope& r, int64_t T, at::Device device, at::ScalarType dtype);
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);  // x [B, H, T, D]

// Scaled dot-product attention; q [B, H, T, D], k/v [B, Hkv, T, D]; softmax in float32.
// causal: mask the future; window > 0: also mask keys more than window-1 positions back.
// Above 256 MiB of float32 scores the queries are taken a slice at a time (same result).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, bool causal,
                     int64_t window = 0);

}  // namespace quench
