#pragma once
// The typed per-layer settings a recipe resolves to: how a layer's weights, its input and output
// activations and (for attention modules) its KV cache are quantized. Parsed strictly from the
// recipe's JSON sections: an unknown key or an impossible value throws a RecipeError naming the key.
//
// JSON (the field names follow compressed-tensors' quantization args where one exists):
//   weights:      {"type": "int" | "float" (FP8 E4M3: bits 8, symmetric, strategy channel or tensor,
//                  method rtn: scale = absmax / 448, values rounded to E4M3) | "olive" (OliVe's
//                  outlier-victim pairs: bits 4, strategy channel or tensor, method rtn,
//                  "normal": "auto"|"int"|"flint"; olive.h),
//                  "bits": 2..8, "symmetric": true, "strategy": "tensor"|"channel"|"group",
//                  "group_size": N (group only), "group_fallback": bool, "method": a registered
//                  weight method (weight_method.h: "rtn"|"gptq"|"awq"|"dgq"|"hqq"|"zpsearch"),
//                  "format": "int" | a ggml block type "q8_0"|"q4_0"|"q5_0"|"q4_1"|"q5_1"|"q4_k"|"q6_k"|"mxfp4"|"nvfp4"
//                  (the type fixes bits, symmetric and grouping: the quantizer works on exactly
//                  the grid a GGUF file stores, core/ops/ggml_grid.h),
//                  and the method's own options, declared in its file (rtn: "clip";
//                  gptq: "damp", "block_size", "act_order"; awq: "grid", "clip_search"; ...)}
//   activations / output_activations:
//                 {"type": "int" | "float" (FP8 E4M3, bits 8, symmetric; scale absmax / 448)
//                  | "log_sqrt2" (RepQ-ViT's log√2 grid for values in [0, 1], bits only),
//                  "bits": 2..8, "symmetric": true, "strategy": "tensor"|"token",
//                  "dynamic": false, "observer": "minmax"|"percentile"|"mse", "percentile": 99.99}
//                 ("token" is dynamic per token; "tensor" is static unless dynamic: true)
//                 | {"format": "mxfp4" | "nvfp4"} (E2M1 blocks along the channels, W4A4)
//   kv_cache:     {"method": "kivi", "bits": 2..8, "group_size": 32, "residual": 128}
//                 | {"method": "zipcache", ...} | {"method": "fp8" | "mxfp4" | "nvfp4"}
//                 | {"method": "zipcache", "bits": 2, "high_bits": 4, "salient": 0.4, "group_size": 32, "probe": 0.1}
//                 | {"method": "fp8"}
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/io/ggml_blocks.h"
#include "core/ops/fake_quant.h"
#include "core/util/error.h"

namespace quench {

// A recipe that cannot be applied as written. key: the JSON path ("overrides[1].weights.bits"),
// layer: the module it was resolved for ("" when it concerns the recipe as a whole). The GUI's
// recipe editor uses both to point at the field; what() is the one-line message.
class RecipeError : public Error {
 public:
  RecipeError(std::string key, std::string layer, const std::string& message);
  const std::string& key() const { return key_; }
  const std::string& layer() const { return layer_; }

 private:
  std::string key_, layer_;
};

enum class WeightStrategy { Tensor, Channel, Group };
enum class OliveNormal { Auto, Int, Flint };

struct WeightQuant {
  int bits = 8;
  bool symmetric = true;
  WeightStrategy strategy = WeightStrategy::Channel;
  int64_t group_size = 0;  // Group only
  // A layer whose inputs group_size does not divide takes the largest divisor below it (and the
  // plan says so) instead of being an error. The schemes (W4A16-G128, …) set it: defaults must
  // work on any model; a recipe that spells out group_size gets the error unless it asks.
  bool group_fallback = false;
  std::string method = "rtn";  // a registered weight method (weight_method.h)
  // The method's own options that the recipe gave, by key; the others take the defaults its file
  // declares. Read them through option() and its typed forms.
  nlohmann::json options = nlohmann::json::object();
  std::optional<GgmlType> ggml;      // format: a ggml block type instead of Quench's integer grid
  bool fp8 = false;                  // type "float": FP8 E4M3 values with F32 scales (spec() gives the scales' shape)
  bool olive = false;                // type "olive": OliVe's 4-bit outlier-victim pairs (olive.h)
  OliveNormal olive_normal = OliveNormal::Auto;  // olive: the normal values' grid

  // Values per scale slot along the input dimension (group_size, a ggml type's block; 0 otherwise).
  int64_t slot() const;
  // Columns the input dimension must be a multiple of (a group, a ggml block or super-block).
  int64_t unit() const;
  // Storage bits per weight element (ggml types: the block size over its values, e.g. Q4_0 4.5).
  double ggml_bits_per_weight() const;

  // The core/ops spec for a weight viewed as [out, in] (Conv weights flattened to [out, in·k…]).
  ops::QuantSpec spec(double clip_ratio = 1.0) const;
  // Whether the method declares this option.
  bool has_option(const std::string& key) const;
  // The method's option: as given, else its declared default. Fails naming the key and the method
  // when the method has no such option.
  nlohmann::json option(const std::string& key) const;
  bool flag(const std::string& key) const { return option(key).get<bool>(); }
  int64_t integer(const std::string& key) const { return option(key).get<int64_t>(); }
  double number(const std::string& key) const { return option(key).get<double>(); }
  std::string text(const std::string& key) const { return option(key).get<std::string>(); }
  nlohmann::json to_json() const;  // every field that applies to the method, for the store and the GUI
  std::string describe() const;    // "W4 sym g128 gptq"
};

enum class ActStrategy { Tensor, Token };
enum class ActObserver { MinMax, Percentile, Mse };

struct ActQuant {
  int bits = 8;
  bool symmetric = true;
  ActStrategy strategy = ActStrategy::Tensor;
  bool dynamic = false;  // Token is always dynamic
  ActObserver observer = ActObserver::MinMax;
  double percentile = 99.99;  // Percentile observer: the |x| percentile that becomes the range
  bool fp8 = false;           // type "float": FP8 E4M3, scale = range / 448
  // type "log_sqrt2": RepQ-ViT's quantizer for softmax probabilities, q = round(−2·log₂ x) in
  // [0, 2^bits − 1], x̂ = 2^(−q/2), and 0 where q would not fit; no scale to calibrate.
  bool log_sqrt2 = false;
  // format "mxfp4" | "nvfp4": 4-bit E2M1 values in blocks along the channels, scaled per block at
  // run time as weights of that format are (core/ops/ggml_grid.h; NVFP4's per-tensor G from the
  // tensor itself): llm-compressor's W4A4 MXFP4 and NVFP4 activations.
  std::optional<GgmlType> fp4;

  nlohmann::json to_json() const;
  std::string describe() const;  // "A8 static tensor percentile 99.99"
};

// kivi: KIVI's per-channel keys / per-token values in groups, with a float residual (kivi.h).
// fp8: FP8 E4M3 with one static scale per tensor for the module's keys and one for its values,
// calibrated as absmax / 448: what vLLM's fp8 KV cache runs, written as kv_cache_scheme.
// zipcache: ZipCache's salient tokens (by normalized attention) at high_bits, the rest at bits (zipcache.h).
// mxfp4 / nvfp4: every cached token's channels as E2M1 values in blocks of 32 / 16 within each
// head, scaled as a weight row of that format is (NVFP4's per-tensor scale from the tensor itself).
enum class KvMethod { Kivi, Fp8, ZipCache, Mxfp4, Nvfp4 };

struct KvQuant {
  KvMethod method = KvMethod::Kivi;
  int bits = 2;             // kivi; zipcache: the other tokens
  int64_t group_size = 32;  // kivi, zipcache. keys: tokens per group (per channel); values: channels per group (per token)
  int64_t residual = 128;   // kivi. newest tokens kept in full precision; a multiple of group_size
  int high_bits = 4;        // zipcache: the salient tokens
  double salient = 0.4;     // zipcache: share of tokens kept at high_bits
  double probe = 0.1;       // zipcache: share of queries whose attention ranks the tokens (half the newest, half at random)

  nlohmann::json to_json() const;
  std::string describe() const;  // "KIVI 2-bit g32 residual 128", "FP8 E4M3 static per tensor"
  bool fp4() const { return method == KvMethod::Mxfp4 || method == KvMethod::Nvfp4; }
  GgmlType fp4_type() const { return method == KvMethod::Mxfp4 ? GgmlType::MXFP4 : GgmlType::NVFP4; }
  // Storage per cached element: KIVI's bits plus an fp16 scale and an fp16 minimum per group;
  // ZipCache's mix of the two bit widths plus the same per group (its values' one fp16 scale per
  // channel and sequence is left out: it shrinks with the context); FP8's 8 bits (its two scales
  // per module are nothing per element); MXFP4's E8M0 scale per 32 and NVFP4's E4M3 per 16.
  double bits_per_element() const {
    if (method == KvMethod::Fp8) return 8.0;
    if (method == KvMethod::Mxfp4) return 4.0 + 8.0 / 32.0;
    if (method == KvMethod::Nvfp4) return 4.0 + 8.0 / 16.0;
    const double g = 32.0 / static_cast<double>(group_size);
    return method == KvMethod::ZipCache ? salient * high_bits + (1 - salient) * bits + g : bits + g;
  }
};

const char* strategy_name(WeightStrategy s);

// Parsers of one section object. `key` is the path of the section for messages
// ("default.weights"); `source(field)` names where each field came from when the object was
// merged from several recipe entries (by default key + "." + field). partial: the object is one
// entry that later merges with others (an override's patch): keys, types and ranges are checked,
// combinations of fields (group_size needs strategy group, damp needs method gptq, ...) are not.
using FieldSource = std::function<std::string(const std::string& field)>;
WeightQuant parse_weight_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source = {}, bool partial = false);
ActQuant parse_act_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source = {}, bool partial = false);
KvQuant parse_kv_quant(const nlohmann::json& j, const std::string& key, const FieldSource& source = {}, bool partial = false);

}  // namespace quench
