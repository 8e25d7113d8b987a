#pragma once
// ZipCache (He et al., "ZipCache: Accurate and Efficient KV Cache Quantization with Salient Token
// Identification", NeurIPS 2024; ThisisBillhe/ZipCache): mixed-precision KV cache where the
// tokens that matter get more bits. A token's saliency is its normalized attention
// p̃_j = Σ_i A_ij / nnz(A_:,j), the attention it receives divided by the number of queries that can
// see it (plain accumulated attention favours early tokens only because more queries follow them).
// Only a probe set of queries is used (half the newest, half drawn at random with a fixed seed),
// which is what lets the real system keep a fused attention kernel; saliency is averaged over heads.
// The round(salient·T) most salient tokens of each sequence are stored at high_bits, the rest at
// bits: keys per channel (asymmetric, groups of group_size tokens along time, within each class),
// values normalized per channel (one absmax per channel and sequence) and then quantized per token
// (asymmetric, groups of group_size channels). No full-precision window.
// Applied through the attention modules' :q, :k and :v points (queries and keys after RoPE). As for
// KIVI, a perplexity pass computes all positions at once, so the cache is simulated as it stands
// once the whole window was written. The attention scale is 1/√head_dim (GPT-2 configs that scale
// by the layer index rank with it unscaled).
// Storage per element: salient·high_bits + (1 − salient)·bits + 32/group_size (fp16 scale and
// minimum per group), plus one fp16 per channel and sequence for the values' normalization.
// Reproduces (tests): on sotu-llama at 3.0 bits per element, ZipCache (4/2-bit, 37.5% salient,
// groups of 128) beats KIVI-2 (groups of 32, no residual) (QuantAccuracy.ZipCacheBeatsKiviAtThreeBits);
// normalized attention picks the tokens plain accumulated attention misses (ZipCacheTest.*).
#include <ATen/ATen.h>

#include "core/compress/settings.h"

namespace quench {

// q: [B, T, heads·head_dim], k: [B, T, kv_heads·head_dim] → [B, T] float32 saliency.
at::Tensor zipcache_saliency(const at::Tensor& q, const at::Tensor& k, int64_t head_dim, double probe);
// [B, T] bool: the round(salient·T) tokens of each sequence with the highest saliency.
at::Tensor zipcache_salient(const at::Tensor& saliency, double salient);
// [B, T, C] → same, fake-quantized; salient: [B, T] bool.
at::Tensor zipcache_keys(const at::Tensor& k, const at::Tensor& salient, const KvQuant& s);
at::Tensor zipcache_values(const at::Tensor& v, const at::Tensor& salient, const KvQuant& s);

}  // namespace quench
