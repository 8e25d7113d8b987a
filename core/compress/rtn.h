#pragma once
// Round-to-nearest weight quantization (the baseline every paper compares against; formulas in
// core/ops/fake_quant.h): per tensor, per output channel or per group of input columns, symmetric
// or asymmetric, 2–8 bits, with the range either the min/max of each scale's slot or searched:
// "mse" tries clip ratios 1, 0.975, …, 0.525 of the range for every slot and keeps the one with the
// lowest weight MSE (llm-awq auto_clip without data; GPTQ's quant.py `mse` option).
// Reproduces: LLaMA-7B WikiText-2 RTN-4 per channel 6.29 vs FP16 5.68 (GPTQ README) — the baseline
// the GPTQ and AWQ tests beat on sotu-llama (QuantAccuracy.*BeatsRtn*).
#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "core/compress/settings.h"
#include "core/nn/weight_encoding.h"

namespace quench {

// Per-slot error of a candidate fake-quantized weight, shaped like the scale (flattened to [slots]).
using SlotError = std::function<at::Tensor(const at::Tensor& w_fake)>;

// Weight MSE summed per scale slot of w2d [out, in] under spec: [1], [out] or [out·groups].
at::Tensor slot_weight_error(const at::Tensor& w2d, const at::Tensor& w_fake, const ops::QuantSpec& spec);

// For each slot, the params of the clip ratio (of `ratios`) with the lowest `error`. ratios_out
// (optional) receives the chosen ratio per slot, F32 [slots].
ops::QuantParams search_clip(const at::Tensor& w2d, const ops::QuantSpec& spec, const std::vector<double>& ratios, const SlotError& error,
                             at::Tensor* ratios_out = nullptr);

struct RtnInfo {
  double mean_clip = 1.0;  // mean chosen clip ratio over slots (1 for minmax)
  WeightEncoding encoding;  // the integers' scales (zeros) or ggml parameters that were applied
};

// w2d: F32 [out, in]; returns the fake-quantized (quantized then dequantized) weight.
at::Tensor rtn_quantize(const at::Tensor& w2d, const WeightQuant& setting, RtnInfo* info = nullptr);

// A ggml grid's parameters with the clip ratio of `ratios` per block (super-block) that gives the
// lowest weight MSE.
ops::GgmlParams ggml_search_clip(const at::Tensor& w2d, GgmlType t, const std::vector<double>& ratios);

// The clip ratios "mse" tries: 1 − 0.025·i, i = 0…19.
std::vector<double> mse_clip_ratios();

}  // namespace quench
