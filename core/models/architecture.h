#pragma once
// What one architecture file declares about its family: the config.json names it answers to, how
// to build the model, and the structure compression methods read (module roles by Hugging Face
// module name, relative to a block's prefix). Methods keep the algorithms (core/compress); the
// knowledge of which module plays which role lives with the architecture, so a new family is one
// file plus one line in registry.cpp, and tests/core/architecture_structure_test.cpp checks every
// description against the family's fixtures.
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/models/model.h"

namespace quench {

// A per-channel scale s folded into a preceding op (a norm's weight and bias, or the output rows of
// a previous linear) and multiplied into the linears that read it — exact in float. SmoothQuant
// uses the norm groups; AWQ uses all of them.
struct ScaleGroup {
  enum class Prev { RmsNorm, LayerNorm, LinearRows };
  Prev prev_kind = Prev::RmsNorm;
  std::string prev;                 // "input_layernorm" (norm: its .weight, and .bias for LayerNorm) or a layer ("self_attn.v_proj")
  std::vector<std::string> layers;  // readers ("self_attn.q_proj", ...)
  bool smoothquant = false;         // also a SmoothQuant pair (norm → readers)
};

// The attention and gated MLP of a block, as FLAP prunes them (MLP channels: gate/up rows and down
// columns; head groups: q/k/v rows and o columns).
struct AttentionMlpRoles {
  std::string q, k, v, o;
  std::string gate, up, down;
};

struct Structure {
  std::string head;                              // the output head layer ("lm_head", "classifier.1")
  std::vector<ScaleGroup> groups;                // per block
  // The order in which a block's layers are quantized (true-sequential GPTQ/AWQ): layers of one stage
  // read the same input. Layers not listed form stages of their own, in model order.
  std::vector<std::vector<std::string>> stages;
  std::vector<std::string> no_clip;              // AWQ skips the clip search (queries, keys: a softmax follows)
  std::vector<std::string> kv_projections;       // the key and value projections (Palu, KV statistics)
  std::optional<AttentionMlpRoles> prunable;     // FLAP's structured pruning applies
  // Quamba's recipe for this family (a recipe JSON: overrides of the selective-scan block and its
  // points); null when Quamba does not apply. The quamba2 presets build on it.
  nlohmann::json quamba;
  // Quamba2's sort-and-cluster reordering of the scan's heads and state groups applies (Mamba-2).
  bool ssd_head_reorder = false;
  // Hugging Face parameter name ↔ llama.cpp tensor name (its tensor_mapping.py), with {N} for the
  // block number and {W} for "weight" or "bias", in the same order on both sides; read both ways
  // by the GGUF exporter and importer (core/export/gguf_names.h).
  std::vector<std::pair<std::string, std::string>> gguf_tensors;
  std::string gguf_optional_prefix;  // HF names may also come without it ("transformer." of GPT-2)
};

struct ArchitectureName {
  const char* name;             // config.json "architectures"[0]
  const char* model_type;       // config.json "model_type"
  const char* gguf_arch = "";   // llama.cpp's general.architecture for it ("" when GGUF cannot hold it)
};

// One architecture file's declaration (several config names may share one implementation).
struct ArchitectureFamily {
  const char* title;  // how messages name the family: "Llama, Qwen2 and Mistral", "Mamba-2"
  std::vector<ArchitectureName> names;
  Modality modality;
  std::unique_ptr<Model> (*make)(std::shared_ptr<const Checkpoint>);
  Structure structure;
};

}  // namespace quench
