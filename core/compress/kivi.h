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

#include <utility>
#include <vector>

#include "core/compress/settings.h"
#include "core/models/kv_store.h"

namespace quench {

at::Tensor kivi_keys(const at::Tensor& k, const KvQuant& s);    // [B, T, C] → same, fake-quantized
at::Tensor kivi_values(const at::Tensor& v, const KvQuant& s);  // [B, T, C] → same, fake-quantized

// The cache as KIVI keeps it while decoding (Model::decode, through the store factory compress
// installs): keys leave a float window of R tokens R at a time, quantized per channel in groups of
// G tokens; values leave it one token at a time, quantized per token in groups of G channels. The
// codes are packed (bits per value, pack_int32), each group's scale is float16 and its zero point
// uint8, as in KIVI; attention reads everything dequantized (for one block at a time), so what
// stays in memory is the packed form: ≈ bits + 24/G bits per element. The same groups as the
// whole-sequence simulation above, so after the same tokens the cache reads back the simulation's
// values up to the float16 rounding of the scales.
class KiviKvStore : public KvStore {
 public:
  // Throws when the setting cannot decode: a residual of 0 or not a multiple of G, or (at the first
  // append) a head size that is not whole groups.
  explicit KiviKvStore(const KvQuant& s);
  std::pair<at::Tensor, at::Tensor> append(const at::Tensor& k, const at::Tensor& v) override;
  int64_t tokens() const override { return tokens_; }
  int64_t bytes() const override;

  struct Packed {  // one quantized run: codes [rows, words] (I32), scale [rows, groups] (F16), zero (U8)
    at::Tensor codes, scale, zero;
    int64_t bytes() const;
  };

 private:
  KvQuant s_;
  // Keys: one Packed of [B·H·D, n, ·]: for each row (b, h, d), n windows of R values along time.
  // Values: one Packed of [B, H, t, ·] (every token that left the window, D values each).
  Packed keys_;
  Packed values_;
  at::Tensor k_res_, v_res_;           // the float windows [B, H, r, D]
  int64_t tokens_ = 0;
};

}  // namespace quench
