#pragma once
// FLAP structured pruning (An et al., "Fluctuation-based Adaptive Structured Pruning for Large
// Language Models", AAAI 2024; CASIA-IVA-Lab/FLAP lib/prune.py): removes whole MLP channels
// (gate/up rows and down_proj columns) and attention head groups (q/k/v rows and o_proj columns),
// so the model gets physically smaller. Scores are the weighted input feature variance of the
// layer that reads the channel: S_j = Var(x_j)·‖W[:, j]‖² on down_proj's and o_proj's inputs.
// Attention scores are squared, standardized per layer and averaged per head group; MLP scores
// standardized per layer. Adaptive structure (the reference's AL-AM): heads and channels of all
// layers are pooled, one threshold is chosen so the kept parameters reach (1 − ratio) of the
// targeted ones, a head group weighing its parameter count in channels. The removed channels'
// mean contribution is folded into a bias of the reading layer: b += W[:, pruned]·mean(x_pruned).
// With grouped-query attention a head group is one key/value head with the query heads that
// share it, so the remaining heads still group evenly.
//
// Recipe section (model-wide, beside "smoothquant"):
//   "structured": {"method": "flap", "ratio": 0.2, "target": "mlp" | "heads" | "mlp+heads",
//                  "adaptive": true, "metric": "wifv" | "weight", "bias_compensation": true,
//                  "align": 1}
// `adaptive: false` removes `ratio` of each layer's channels / groups (the reference's UL-UM).
// `metric: "weight"` scores by ‖W[:, j]‖² alone (a data-free baseline). `align`: kept MLP channels
// per layer are rounded up to a multiple of it (a group size of later quantization, tensor-core
// tiles). Each layer keeps at least one channel and one head group.
// Reproduces (tests): on sotu-llama at 20% of the MLP channels FLAP evaluates with fewer
// parameters and beats the weight-only score (FlapAccuracy.Mlp20); bias compensation is exact for
// channels that do not fluctuate (FlapTest.BiasCompensationExactForConstantChannels).
// Paper check: LLaMA-7B 20% 12.62 → 14.62 (WikiText-2, seq 128).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/models/model.h"
#include "core/stats/calibrate.h"
#include "core/util/progress.h"

namespace quench {

struct FlapSetting {
  enum class Target { Mlp, Heads, Both };
  enum class Metric { Wifv, Weight };
  double ratio = 0.2;  // the fraction of the targeted parameters removed
  Target target = Target::Mlp;
  bool adaptive = true;
  Metric metric = Metric::Wifv;
  bool bias_compensation = true;
  int64_t align = 1;

  bool mlp() const { return target != Target::Heads; }
  bool heads() const { return target != Target::Mlp; }
  bool needs_data() const { return metric == Metric::Wifv || bias_compensation; }
  nlohmann::json to_json() const;
  std::string describe() const;  // "flap 20% of mlp channels"
};

// Parses the "structured" section; throws RecipeError naming the key.
FlapSetting parse_flap(const nlohmann::json& j, const std::string& key);

// Whether (and if not, why not) a model can be pruned structurally: "" when it can.
std::string flap_unsupported_reason(const Model& model);

// The layers FLAP changes in block i (for recipe checks): MLP readers first, then attention.
struct FlapBlock {
  Layer *gate = nullptr, *up = nullptr, *down = nullptr;
  Layer *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr;
  int64_t head_dim = 0;
};
FlapBlock flap_block(const Model& model, int64_t block);

struct FlapLayerOutcome {
  std::string block;                 // "model.layers.3"
  int64_t channels_before = 0, channels_after = 0;   // MLP intermediate channels
  int64_t heads_before = 0, heads_after = 0;         // query heads
  int64_t kv_heads_before = 0, kv_heads_after = 0;
};

struct FlapOutcome {
  std::vector<FlapLayerOutcome> blocks;
  int64_t params_before = 0, params_after = 0;  // of the targeted layers' weights and biases
  nlohmann::json to_json() const;
};

// Prunes `model` in place (layer weights reshaped; reset_compression() restores them). `batches`
// feed one pass of the (uncompressed) model for the statistics; unused when !needs_data().
FlapOutcome apply_flap(Model& model, const FlapSetting& setting, const BatchSource& batches, const Progress& progress = {});

// Drops input columns of a Linear layer, keeping `keep` (I64 [k], ascending); with `mean` (F32
// [in], the calibration mean of the input) the dropped columns' mean contribution goes into the
// bias. Exact for inputs that equal their mean on the dropped columns.
void drop_input_columns(Layer& layer, const at::Tensor& keep, const at::Tensor& mean = {});
// Keeps the output rows `keep` (I64 [k]) of a Linear layer (and its bias).
void keep_output_rows(Layer& layer, const at::Tensor& keep);

}  // namespace quench
