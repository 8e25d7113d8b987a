#pragma once
// The compression pipeline's internals (compress.h is the interface): what it keeps per layer,
// what a stage's capture collects, and the Pipeline whose steps live in compress.cpp (their order,
// transforms, block-sequential passes), compress_layer.cpp (one layer's weight step),
// streamed_pass.cpp (a model streamed from its checkpoint: one block resident at a time) and
// pipeline_results.cpp (measured errors and the store's rows).
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/compress/compress.h"
#include "core/compress/gptq.h"
#include "core/compress/layer_error.h"
#include "core/compress/point_transforms.h"
#include "core/compress/weight_method.h"

namespace quench::pipeline {

// Thrown by a capture observer once every layer of a stage has seen its input: the rest of the
// block's forward is not needed. Not a std::exception, so nothing in between swallows it.
struct StopForward {};

inline int64_t channel_dim_of(LayerKind k) { return k == LayerKind::Linear || k == LayerKind::Embedding ? -1 : 1; }

// Everything the pipeline keeps about one compressed layer.
struct LayerState {
  Layer* layer = nullptr;
  const LayerPlan* plan = nullptr;
  at::Tensor ref_weight, ref_bias;  // float weight right before quantization (after smoothing/rotation)
  ops::QuantParams in_params, out_params;
  ErrorAccumulator weight_err, output_err;
  nlohmann::json details = nlohmann::json::object();
  at::Tensor mask;   // pruned layers: bool [out, in], true = kept (dropped once a streamed block is settled)
  int64_t kept = -1;  // pruned layers: weights kept
  int64_t rank = 0;  // low-rank layers
};

// What a layer's weight step needs from its calibration inputs.
inline bool needs_hessian(const LayerPlan& p) {
  return (p.weights && weight_method(p.weights->method).data == MethodData::Hessian) || (p.prune && p.prune->needs_data()) ||
         (p.lowrank && p.lowrank->whitened());
}
inline bool needs_rows(const LayerPlan& p) { return p.weights && weight_method(p.weights->method).data == MethodData::InputRows && !p.lowrank; }
inline bool needs_abs_mean(const LayerPlan& p) { return p.lowrank && p.lowrank->needs_abs_mean(); }
// Quantization, pruning or factoring: something changes the layer's weight.
inline bool has_weight_step(const LayerPlan& p) { return p.weights || p.prune || p.lowrank; }

// Captures what a stage's layers see: a Hessian per GPTQ, Wanda, SparseGPT or SVD-LLM layer (Wanda
// reads ‖X_:,j‖ off its diagonal), input rows per AWQ layer, mean |x| per ASVD layer.
struct StageCapture : Observer {
  std::map<std::string, LayerState*> by_point;
  std::map<std::string, std::unique_ptr<HessianAccumulator>> hessians;
  std::map<std::string, std::vector<at::Tensor>> rows;  // AWQ: input rows kept (up to a limit)
  std::map<std::string, int64_t> kept;
  std::map<std::string, at::Tensor> abs_sum;  // ASVD: F64 Σ|x| per input
  std::map<std::string, int64_t> abs_rows;
  std::set<std::string> seen;
  int64_t row_limit = 0;
  bool early_stop = true;

  void observe(const std::string& point, const at::Tensor& t, int64_t) override;
};

// What ZipCache's transforms on one attention module share within a forward pass: the queries
// (tapped first), and the salient tokens the keys' transform chose, which the values' reuses.
struct ZipState {
  at::Tensor q, salient;
};

class Pipeline {
 public:
  Pipeline(Model& model, const ResolvedRecipe& plan, const CalibrationSet& calib, const CompressOptions& opts, const Progress& progress)
      : model_(model), plan_(plan), calib_(calib), opts_(opts), progress_(progress) {}

  CompressResult run();

 private:
  // --- progress ---
  void step(const std::string& message);
  Progress inner(const std::string& what);  // for nested calibrate() calls: cancellation passes through

  // --- steps ---
  void structure();
  void smooth();
  void reparameterize();
  void reorder();
  void rotate();
  void quantize_weights();
  void compress_layer(LayerState& s, const StageCapture* cap);
  int64_t kivi_store_block(const KvPlan& k) const;  // the block whose decoding store holds k's cache, or −1
  void record_weight(LayerState& s, const at::Tensor& wq2d);
  void sequential_pass();
  void block_steps(int64_t block, const std::vector<at::Tensor>& hs);  // the methods' before_block
  void quantize_stage(int64_t block, const std::vector<at::Tensor>& hs, const std::vector<Layer*>& stage);
  void outside_blocks_data_layers(const std::vector<at::Tensor>& hs);
  void install_kv();
  void calibrate_activations();
  void measure();
  std::map<std::string, PointTransforms::Probe> measure_probes();  // sets each layer's ref_bias
  CompressResult results();

  // --- a model streamed from its checkpoint (streamed_pass.cpp) ---
  void check_streamable() const;
  void streamed_pass();
  void streamed_outside_layers(bool measuring);  // the layers outside the blocks that need no calibration data
  void streamed_measure_outside(const std::vector<at::Tensor>& ms);
  // Block inputs of a streamed model on CUDA that would crowd the device wait in pinned host
  // memory between blocks; on_device brings one back for a pass.
  at::Tensor park(const at::Tensor& h) const;
  at::Tensor on_device(const at::Tensor& h) const { return park_on_host_ ? h.to(model_.device(), /*non_blocking=*/true) : h; }
  bool park_on_host_ = false;
  bool measuring_ = false;
  // Streamed: a layer's reference weight becomes its stored original when nothing changed it before
  // its step (no rotation, no AWQ fold), or nothing when errors are not measured: no float copy of a
  // block is kept while it is measured.
  void lighten_reference(LayerState& s, bool measuring) const;
  void compress_resident_layers(const std::vector<LayerState*>& states, bool measuring);
  std::map<std::string, PointTransforms::Probe> measure_probes_;  // streamed: installed for each block's measuring pass

  bool data_method(const LayerState& s) const { return needs_hessian(*s.plan) || needs_rows(*s.plan) || needs_abs_mean(*s.plan); }

  Model& model_;
  const ResolvedRecipe& plan_;
  const CalibrationSet& calib_;
  const CompressOptions& opts_;
  const Progress& progress_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  int64_t steps_total_ = 0, steps_done_ = 0;
  std::string step_message_;

  std::vector<std::unique_ptr<LayerState>> states_;  // compressed layers, model order
  std::map<const Layer*, LayerState*> by_layer_;
  std::set<const Layer*> folded_;  // readers of a group AWQ folded a scale into
  PointTransforms transforms_;
  std::map<std::string, ops::QuantParams> point_params_;
  std::map<std::string, ErrorAccumulator> point_err_, kv_err_;
  std::map<std::string, std::pair<double, double>> kv_scales_;  // FP8 KV: module → (k scale, v scale)
  std::map<std::string, std::shared_ptr<ZipState>> zip_;          // ZipCache: module → its shared state
  std::map<std::string, at::Tensor> point_groups_;                // Quamba2: point → scale group of each channel
  nlohmann::json details_ = nlohmann::json::object();
  std::vector<std::string> warnings_;
};

// What a quantized KV cache returns for the keys (or values) written to it. FP8 uses the module's
// calibrated per-tensor scale; KIVI computes its own per group.
Transform kv_transform(const KvPlan& plan, bool keys, double fp8_scale, const std::shared_ptr<ZipState>& zip);

}  // namespace quench::pipeline
