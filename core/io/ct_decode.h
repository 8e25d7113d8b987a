#pragma once
// Reads compressed-tensors checkpoints (vllm-project/compressed-tensors 0.12.x: what
// llm-compressor writes and vLLM loads) so that every other part of Quench sees an ordinary
// float checkpoint: each compressed Linear P shows one tensor "P.weight", decoded to F32 from its
// stored parts, which are hidden. Formats read: pack-quantized (int 1–8 bits, tensor / channel /
// group / block scales, packed zero points, act-order g_idx), int-quantized and naive-quantized
// (int8 weights), float-quantized (F8_E4M3 weights), nvfp4-pack-quantized (E2M1 pairs in bytes, E4M3
// scales per 16 columns divided by a per-tensor global scale), mxfp4-pack-quantized (E2M1, E8M0
// exponents per 32 columns), sparse-24-bitmask (float or int8 values), and
// mixed-precision configs whose groups name their own format. Activation and KV-cache scales
// (input_scale, k_scale, ...) describe inference, not weights: they are consumed and hidden.
//
// Opening checks everything the headers show (which group quantizes which module, dtypes and
// shapes of every part) and names config.json, the module and the tensor in each error; decoding
// checks the values (integer range, padding bits, g_idx groups, two of every four kept).
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/io/safetensors.h"

namespace quench {

class Checkpoint;

// The integer grid a Linear's weight was stored on (pack-, int- or naive-quantized; tensor, channel
// or group scales), in Quench's convention: x̂ = scale · (q − zero) with a symmetric q signed and
// an asymmetric q and zero in [0, 2^bits − 1]. What runs a layer from its integers needs it
// (core/nn/packed_linear.h); the decoded float weight lies exactly on it.
struct StoredIntGrid {
  int bits = 8;
  bool symmetric = true;
  std::string strategy;   // "tensor", "channel" or "group"
  int64_t group_size = 0;  // group only
  at::Tensor scale;        // F32: [1], [rows] or [rows, groups]
  at::Tensor zero;         // I32 like scale, asymmetric only
  at::Tensor g_idx;        // I32 [cols] when act-order reordered the groups, else undefined
};

class CtDecoder {
 public:
  // nullptr when config.json has no quantization_config; throws for a quantization_config of
  // another quant_method (GPTQ, AWQ, bitsandbytes checkpoints), naming it and what Quench reads.
  // `stored`: the names of every tensor in the checkpoint's files.
  static std::shared_ptr<const CtDecoder> open(const Checkpoint& ck, const std::vector<std::string>& stored);
  ~CtDecoder();

  const std::string& format() const { return format_; }
  // The decoded tensors ("P.weight", F32, the layer's shape).
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, TensorInfo>& decoded() const { return infos_; }
  // Whether a stored tensor is a part that a decoded tensor (or an inference scale) replaces.
  bool hides(const std::string& stored) const { return hidden_.count(stored) != 0; }
  at::Tensor decode(const Checkpoint& ck, const std::string& name) const;
  // The integer grid of a decoded weight, when it has one Quench can run (not sparse, FP8/FP4 or
  // block-scaled); nullopt otherwise.
  std::optional<StoredIntGrid> int_grid(const Checkpoint& ck, const std::string& name) const;
  // How a decoded tensor is stored, for people: "int4 g128 asym act-order", "2:4 int8 channel"; "" for others.
  std::string describe(const std::string& name) const;

  struct Args;
  struct Module;

 private:
  CtDecoder() = default;
  std::string format_;
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::shared_ptr<const Module>> modules_;  // by decoded name
  std::set<std::string> hidden_;
};

}  // namespace quench
