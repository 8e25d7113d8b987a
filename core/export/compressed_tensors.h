#pragma once
// Writes a compressed model as a compressed-tensors checkpoint directory (the format of
// vllm-project/compressed-tensors 0.12.x that llm-compressor writes and vLLM, SGLang and
// transformers load): config.json with a "quantization_config" (quant_method
// "compressed-tensors", quantization_status "compressed", one config group per distinct
// weight / input-activation setting, the unquantized Linear layers on the ignore list, a
// sparsity_config for 2:4-pruned layers, a kv_cache_scheme (FP8, static per tensor) with each
// attention module's k_scale / v_scale for an FP8 KV cache), safetensors shards (≤ max_shard_bytes each, with
// model.safetensors.index.json when there is more than one) and the source's tokenizer and
// generation files.
//
// Per quantized Linear P (the integers and scales of its WeightEncoding, never re-derived):
//   pack-quantized (weight-only):   P.weight_packed int32 [out, ceil(in / (32/b))] (32/b values
//       per word along the input dim, low bits first, stored as q + 2^(b−1)), P.weight_scale,
//       P.weight_shape int64 [2], asymmetric P.weight_zero_point (int32 packed along the output
//       dim for channel/group, int8 for tensor), act-order P.weight_g_idx int32 [in];
//   int-quantized (with input activations, or 2:4-pruned): P.weight int8, P.weight_scale,
//       asymmetric P.weight_zero_point int8; static (per-tensor) input activations add
//       P.input_scale F32 [1] and, asymmetric, P.input_zero_point int8 [1];
//   mxfp4-pack-quantized / nvfp4-pack-quantized (weights on format "mxfp4" / "nvfp4"):
//       P.weight_packed U8 [out, in/2] (E2M1 nibbles, the even column low), P.weight_scale
//       U8 E8M0 exponents [out, in/32] resp. F8_E4M3 [out, in/16], NVFP4's P.weight_global_scale
//       F32 [1] (x = E2M1 · scale / global_scale);
//   2:4-pruned: the weight (int8 or float) as P.compressed [out, in/2], P.bitmask uint8
//       [out, ceil(in/8)] (numpy.packbits little bit order), P.shape int64 [2, 1].
// Scales are F32 [1] / [out, 1] / [out, groups] — Quench's own F32 numbers, so the file holds the
// quantizer's grid exactly (vLLM casts them to the model dtype when it loads them). Quench's
// asymmetric integers q, z ∈ [0, 2^b − 1] are written shifted by −2^(b−1) (compressed-tensors'
// signed range), which leaves q − z unchanged. Everything else is written in the source
// checkpoint's dtype. A weight that is not on its recorded grid is an error naming the layer.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "core/compress/recipe.h"
#include "core/models/model.h"
#include "core/ops/fake_quant.h"

namespace quench {

struct CtExportOptions {
  bool force = false;                          // replace a non-empty target directory
  int64_t max_shard_bytes = 5'000'000'000;     // transformers' default max_shard_size "5GB"
  std::function<void(int64_t done, int64_t total)> progress;
  // The calibrated parameters of static input quantizers, by layer (CompressResult::static_inputs):
  // written as P.input_scale (and P.input_zero_point), which vLLM applies as the model runs.
  std::map<std::string, ops::QuantParams> static_inputs;
  // FP8 KV caches' (key, value) scales by attention module (CompressResult::kv_scales), written
  // as <module>.k_scale / .v_scale under kv_cache_scheme.
  std::map<std::string, std::pair<double, double>> kv_scales;
};

// "" when `model` compressed with `plan` can be written as compressed-tensors, else why not,
// naming the layer or setting (ggml formats, low-rank, Hadamard, structured pruning, output
// activation quantization, KIVI KV cache, FP8 KV on only some attention modules, quantized
// non-Linear layers, ...).
std::string ct_exportable(const Model& model, const ResolvedRecipe& plan);
// Throws unless dir can be written: absent, an empty directory, or (force) a directory.
void check_ct_target(const std::string& dir, bool force);

// Writes into a temporary directory beside `dir` and renames it into place.
void export_compressed_tensors(const Model& model, const ResolvedRecipe& plan, const std::string& dir, const CtExportOptions& options = {});

}  // namespace quench
