#pragma once
// Compression recipes: a default setting, ordered overrides matched by glob on Hugging Face module
// names (later ones win, field by field), an ignore list, and model-wide steps (SmoothQuant, extra
// activation points, the KV cache). Parsed strictly (Recipe::parse) without a model, then resolved
// against a model (resolve) into one concrete setting per layer — what the GUI's recipe editor
// shows, what compress() runs and what the store records per layer. docs/recipes.md has the
// format; docs/adding-a-method.md how a new section (prune, lowrank) plugs in.
//
//   { "name": "w4a16-gptq-g128",
//     "default": { "weights": { "bits": 4, "strategy": "group", "group_size": 128, "method": "gptq" } },
//     "ignore": ["lm_head"],
//     "overrides": [ { "match": "model.layers.*.mlp.down_proj", "weights": { "bits": 8, "strategy": "channel" } },
//                    { "match": "model.layers.0.*", "skip": true } ],
//     "activations": { "bits": 8, "strategy": "tensor", "observer": "percentile", "percentile": 99.99 } }
//
// Which layers the default reaches: every Linear and Conv2d layer except the output head
// (lm_head / classifier). Embeddings, Conv1d layers (Mamba's 4-tap depthwise conv) and the head
// are compressed only when an override names them. `ignore` wins over everything.
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/compress/flap.h"
#include "core/compress/prune_settings.h"
#include "core/compress/settings.h"
#include "core/models/model.h"

namespace quench {

// One entry that sets fields: the default or an override, after expanding a "scheme".
// sections: "weights", "activations", "output_activations", "prune", "lowrank", "kv_cache" → an object of fields,
// or null (switched off). Every field remembers the recipe path that set it.
struct SettingPatch {
  std::string key;                 // "default", "overrides[2]", "preset quamba: overrides[0]"
  std::vector<std::string> match;  // globs (overrides only)
  std::map<std::string, nlohmann::json> sections;
  std::map<std::string, std::string> source;  // "weights.bits" → "overrides[2].weights.bits"
  std::optional<bool> skip;
  std::optional<std::string> rotation;  // "hadamard" or "none"
};

struct PointRule {
  std::string key;  // "points[0]"
  std::vector<std::string> match;
  ActQuant act;
};

struct Recipe {
  std::string name;
  std::string origin = "recipe";  // the file it came from, for messages
  nlohmann::json json;            // as written: what the store keeps so the run can be repeated
  std::string preset;             // "quamba", "quamba2-w4a8", ... or ""
  SettingPatch defaults;
  std::vector<SettingPatch> overrides;
  std::vector<std::string> ignore;
  std::optional<double> smoothquant_alpha;
  bool repq = false;  // "repq": true, RepQ-ViT's reparameterization of post-LayerNorm activations (repq_vit.h)
  bool quamba2 = false;  // "quamba2": true, Quamba2's sort-and-cluster reordering and grouped scales of Mamba-2 (quamba2.h)
  std::optional<FlapSetting> structured;  // "structured": model-wide structured pruning (flap.h)
  std::vector<PointRule> points;

  // Throws RecipeError naming the key for anything unknown, mistyped or out of range.
  static Recipe parse(const nlohmann::json& j, const std::string& origin = "recipe");
  static Recipe from_file(const std::string& path);
  // A scheme ("W8A8", "W4A16-G128") or preset ("quamba") name as a whole recipe; nullopt if neither.
  static std::optional<Recipe> from_name(const std::string& name);
  // A file path, else a scheme or preset name; throws naming both possibilities.
  static Recipe load(const std::string& path_or_name);
};

// Preset recipes, expanded for an architecture (throws RecipeError when it does not apply).
std::vector<std::string> preset_names();

// One layer's concrete setting.
struct LayerPlan {
  std::string layer;
  LayerKind kind = LayerKind::Linear;
  std::string status;  // "compressed", "kept: ignored by ignore[0]", "kept: skip by overrides[1]", "kept: the output head is not in the default", ...
  std::optional<WeightQuant> weights;
  std::optional<ActQuant> input, output;  // activation quantization of the layer's input / output
  bool hadamard = false;                  // online Hadamard on the input, W ← W·Hᵀ
  std::optional<PruneSetting> prune;      // zeroes weights (with weights: the kept ones are then quantized)
  std::optional<LowRankSetting> lowrank;  // replaces W by A·B (with weights: A and B are quantized, RTN)
  std::vector<std::string> sources;       // the recipe entries that reached this layer, in order
  std::map<std::string, std::string> field_sources;  // "weights.bits" → recipe path
  std::string fallback;  // why a weight format could not apply and what the layer keeps instead ("" when it applies)

  bool compressed() const { return weights || input || output || hadamard || prune || lowrank; }
  // {"weights": {...}, "activations": {...}, "output_activations": {...}, "rotation": "hadamard",
  //  "sources": [...]} — the per-layer "settings" the store and the GUI show.
  nlohmann::json to_json() const;
};

// KV-cache quantization of one attention module, through its :k and :v points.
struct KvPlan {
  std::string module;  // "model.layers.0.self_attn"
  std::string k_point, v_point;
  std::string q_point;     // the queries after RoPE ("" when the architecture has no such point); ZipCache reads them
  int64_t head_dim = 0;    // Model::attention_head_dim()
  KvQuant kv;
  std::string source;
};

// Activation quantization of an internal point (Mamba's scan input, B, C).
struct PointPlan {
  std::string point;
  ActQuant act;
  std::string source;
};

struct ResolvedRecipe {
  std::string name;
  std::vector<LayerPlan> layers;  // every compressible layer, in Model::layers() order
  std::vector<KvPlan> kv;
  std::vector<PointPlan> points;
  std::optional<double> smoothquant_alpha;
  bool repq = false;
  bool quamba2 = false;
  std::optional<FlapSetting> structured;  // runs first, on the float model; layer shapes change
  std::vector<std::string> warnings;  // overrides or ignore entries that match nothing, ...

  const LayerPlan* find(const std::string& layer) const;
  int64_t compressed_layers() const;
  bool needs_calibration() const;  // GPTQ, AWQ, Wanda, SparseGPT, ASVD, SVD-LLM, SmoothQuant or static activations
  nlohmann::json to_json() const;
};

// Resolves against a model. Throws RecipeError naming the key and the layer for what the model
// makes impossible: a group size that does not divide a layer's inputs, a method or setting that
// does not apply to the layer's kind, a Hadamard size that does not exist, a KV setting on a model
// without attention, a preset for another family, structured pruning on a family it does not
// support or with an `align` that a later group size or N:M pattern does not divide.
ResolvedRecipe resolve(const Recipe& recipe, const Model& model);

}  // namespace quench
