#pragma once
// Applying a resolved recipe to a model: the compression pipeline every method plugs into.
//
//   1. exact float transforms: SmoothQuant scale folding, Hadamard rotations (W ← W·Hᵀ + online H);
//   2. weights, layer by layer: RTN directly; GPTQ and AWQ block-sequentially — each block's
//      calibration inputs are the outputs of the previous, already quantized, blocks, and inside a
//      block the stages run in order (family.h), so later layers see quantized earlier ones;
//   3. the KV cache (KIVI) through the attention :k/:v points;
//   4. activations: static quantizers calibrated in one pass (after rotations, on the quantized
//      weights), dynamic ones installed directly, all as hook transforms;
//   5. measurement: per compressed layer the weight error against its float (transformed) weight,
//      and the output error on calibration inputs (float layer on the float input vs. the
//      compressed layer on its quantized input), per KV module and quantized point the error of
//      the quantized tensor.
// Execution is fake-quantization: weights are replaced by their quantized-then-dequantized values
// and activations pass through quantize → dequantize, so any recipe runs on CPU (and on CUDA
// through core/ops). The model stays compressed until Model::reset_compression().
#include <map>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/compress/calibration_set.h"
#include "core/compress/recipe.h"
#include "core/compress/size_estimate.h"
#include "core/ops/fake_quant.h"
#include "core/store/records.h"
#include "core/util/progress.h"

namespace quench {

struct CompressOptions {
  int64_t measure_samples = 16;   // calibration samples on which output errors are measured (0: none)
  int64_t search_samples = 16;    // AWQ: samples of block inputs each candidate scale is scored on
  int64_t clip_tokens = 2048;     // AWQ: input rows for the clip search
  int64_t histogram_bins = 8192;  // static activation observers (percentile and MSE read the histogram)
};

struct CompressResult {
  // One row per compressed layer (kind "linear", "conv2d", …), KV-cache module (kind "kv_cache")
  // and quantized internal point (kind "activation"), in model order: what the store records.
  std::vector<LayerResult> layers;
  SizeEstimate size;
  std::vector<std::string> warnings;
  nlohmann::json details = nlohmann::json::object();  // SmoothQuant scales, calibration sizes, …
  // The calibrated scale (and zero) of every layer whose input is quantized statically, by layer
  // name: what the forward pass applies, and what an exporter writes as input_scale.
  std::map<std::string, ops::QuantParams> static_inputs;
  // FP8 KV caches: each attention module's (key scale, value scale), for kv_cache_scheme exports.
  std::map<std::string, std::pair<double, double>> kv_scales;
  double seconds = 0;
};

// Compresses `model` in place as `plan` says (the model is reset first). `calib` may be empty only
// when nothing needs calibration (plan.needs_calibration() is false); output errors then stay
// unmeasured. Progress counts pipeline steps; returning false throws Cancelled (the model is then
// partly compressed: reset it).
CompressResult compress(Model& model, const ResolvedRecipe& plan, const CalibrationSet& calib, const CompressOptions& opts = {},
                        const Progress& progress = {});

// The store's kind name for a layer: "linear", "conv1d", "conv2d", "embedding".
std::string layer_kind_name(LayerKind k);

}  // namespace quench
