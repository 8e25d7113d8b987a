#pragma once
// Quamba2 (Chiang et al., "Quamba2: A Robust and Scalable Post-training Quantization Framework for
// Selective State Space Models", ICML 2025; enyac-group/Quamba quamba/reorder_utils.py,
// observer.py) for Mamba-2:
//   - sort-and-cluster: the scan input x's channel maxima r [heads, head_dim] are sorted within
//     each head; the heads of each SSD group are clustered (Ward) on their L2-normalized sorted
//     profiles into up to 4 head groups, and each head group's mean profile is cut into up to 4
//     channel groups (the optimal 1-D k-means partition of the sorted positions);
//   - an offline reordering that makes those groups contiguous: in_proj's z and x rows and
//     conv1d's x channels by channel, in_proj's dt rows, A_log, D and dt_bias by head, the gated
//     norm's weight and out_proj's columns by channel. Every per-channel computation moves with
//     its channel, so the float model computes exactly what it did (test
//     Quamba2Test.ReorderKeepsFloatLogits), and the reordered checkpoint is an ordinary Mamba-2
//     checkpoint that saves and exports as one;
//   - static symmetric absmax scales: x one per (SSD group, head group, channel group), B and C one
//     per state group.
// Presets quamba2-w8a8, quamba2-w4a8 and quamba2-w4a16 add the paper's weights (W8 per-tensor
// absmax; W4 by GPTQ g128, damp 0.01, on in_proj and out_proj) and Quamba's rotated out_proj input.
//   - the residual stream rotated by a Hadamard matrix: embeddings E ← E·Hᵀ, each block's norm
//     weight folded into in_proj and W_in ← W_in·Hᵀ, out_proj's rows W_out ← H·W_out, norm_f's
//     weight folded into the head and W_head ← W_head·Hᵀ. Exact in float; it unties a tied head
//     (save_model then writes lm_head.weight and tie_word_embeddings false). out_proj's input keeps
//     Quamba's online Hadamard.
// Deviations, stated: r is the channel's absmax over all calibration tokens (the paper takes the
// maximum over samples of mean_t|x|); the output head keeps its precision (the paper quantizes it
// with GPTQ W4); on Mamba-1 the presets are Quamba's recipe with these weights, as the paper's
// Mamba-1 path is.
// Reproduces (tests QuantAccuracy.Quamba2*): on sotu-mamba2 W4A8 has a lower perplexity than
// Quamba's per-tensor recipe at W4A8, and W8A8 is within 1% of float.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "core/compress/settings.h"
#include "core/models/model.h"
#include "core/ops/fake_quant.h"
#include "core/stats/calibrate.h"
#include "core/stats/streaming_stats.h"

namespace quench {

// The preset names and their recipe JSON for an architecture; throws RecipeError (key "preset")
// for a model that is not Mamba or Mamba-2.
std::vector<std::string> quamba2_presets();
// The families the sort-and-cluster reordering applies to, for messages ("Mamba-2 (Mamba2ForCausalLM)").
std::string reorder_families();
nlohmann::json quamba2_recipe(const std::string& preset, const std::string& architecture);

struct Quamba2Mixer {
  std::string mixer;                 // "backbone.layers.0.mixer"
  std::vector<int64_t> head_order;   // new head → old head
  std::vector<int64_t> channel_order;  // new channel of x → old channel, [d_inner]
  int64_t head_groups = 0, x_groups = 0;  // per SSD group: head groups; in all: x's scale groups
};

struct Quamba2Outcome {
  std::vector<Quamba2Mixer> mixers;
  bool rotated_residual = false;
  // point → the scale group of each of its channels (int64 [channels]): mixer:x, mixer:B, mixer:C
  std::map<std::string, at::Tensor> groups;
  nlohmann::json to_json() const;
};

// The residual-stream rotation, then sort-and-cluster from calibration and the reordering, on every
// Mamba-2 mixer. Throws for another architecture, a hidden size without a Hadamard matrix, or a
// mixer whose scan input the calibration data did not reach.
Quamba2Outcome apply_quamba2(Model& model, const BatchSource& batches, const Progress& progress);

// The residual-stream rotation alone (Mamba backbones: backbone.embeddings, layers.i.norm, mixer
// in_proj / out_proj, norm_f, lm_head). Exact in float.
void rotate_residual(Model& model);

// The clustering alone (for tests): r [heads, head_dim] channel maxima of one mixer.
struct Quamba2Layout {
  std::vector<int64_t> head_order, channel_order;
  at::Tensor x_group;  // int64 [d_inner] in the new order
  int64_t head_groups = 0, x_groups = 0;
};
Quamba2Layout quamba2_layout(const at::Tensor& r, int64_t ssd_groups, int64_t max_head_groups = 4, int64_t max_channel_groups = 4);

// Static symmetric scales for a point whose channels fall in groups: each group's absmax over its
// channels' absmax, broadcast back to the channels (F32 [channels]) — the per-channel static
// parameters act_fake_quant applies.
ops::QuantParams grouped_act_params(const ActQuant& a, const ActivationStats& stats, const at::Tensor& group_of_channel);

}  // namespace quench
