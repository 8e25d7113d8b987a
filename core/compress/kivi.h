#pragma once
// KIVI (Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", ICML 2024;
// jy-yuan/KIVI models/llama_kivi.py): keys quantized per channel (asymmetric, groups of G tokens
// along time — key outliers live in fixed channels), values per token (groups of G channels), and
// the newest tokens kept in full precision: keys leave the window R tokens at a time (so
// T − T mod R are quantized), values one at a time (the last R stay). Applied through the
// attention modules' :k / :v points, which carry what a KV cache holds ([B, T, kv_heads·head_dim],
// keys after RoPE).
// Evaluation note: a perplexity pass computes all positions at once, so the cache is simulated as
// it stands after the whole window was written (every query sees the same quantized past); in
// decoding, earlier queries would see a slightly different split. Storage: bits + 32/G per element
// (fp16 scale and minimum per group): 3 bits at 2-bit, G = 32.
// Reproduces (tests): 8-bit KIVI leaves perplexity within 0.1% of float (KiviTest.EightBitIsNearFloat);
// lower bits cost monotonically more. Paper check: LongChat-7B LongBench 38.72 → 38.30 at 2 bits.
#include <ATen/ATen.h>

#include "core/compress/settings.h"

namespace quench {

at::Tensor kivi_keys(const at::Tensor& k, const KvQuant& s);    // [B, T, C] → same, fake-quantized
at::Tensor kivi_values(const at::Tensor& v, const KvQuant& s);  // [B, T, C] → same, fake-quantized

}  // namespace quench
