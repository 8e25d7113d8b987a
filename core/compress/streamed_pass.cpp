// Compressing a model streamed from its checkpoint (--max-memory): one block is resident at a
// time. The block is compressed as in the whole-model pipeline (its calibration inputs are the
// outputs of the blocks before it, already compressed), its errors are measured on the way, and
// its compressed weights are written out (Model::settle) before the next block comes in, so that
// memory holds one block, the calibration hidden states and the accumulated statistics.
//
// What needs the whole model at once is refused up front (check_streamable): structured pruning,
// SmoothQuant, RepQ-ViT and Quamba2 change several blocks' weights from one pass over the model,
// and static activation scales (FP8 KV cache included) come from a pass over the compressed model.
#include <chrono>
#include <optional>

#include "core/compress/act_quant.h"
#include "core/compress/family.h"
#include "core/compress/hadamard_rotation.h"
#include "core/compress/pipeline.h"
#include "core/ops/gpu_memory.h"
#include "core/util/error.h"

namespace quench::pipeline {

void Pipeline::check_streamable() const {
  auto refuse = [](const std::string& what) {
    fail(what, " needs the whole model in memory, and this model is streamed from its checkpoint (--max-memory); "
               "raise --max-memory or leave it out of the recipe");
  };
  if (plan_.structured) refuse("structured pruning (FLAP)");
  if (plan_.smoothquant_alpha) refuse("SmoothQuant");
  if (plan_.repq) refuse("RepQ-ViT");
  if (plan_.quamba2) refuse("Quamba2");
  for (const auto& s : states_) {
    if (s->plan->input && !s->plan->input->dynamic) refuse(s->layer->name() + ": static input quantization (its scale is calibrated)");
    if (s->plan->output && !s->plan->output->dynamic) refuse(s->layer->name() + ": static output quantization (its scale is calibrated)");
  }
  for (const auto& p : plan_.points)
    if (!p.act.dynamic) refuse(p.point + ": static activation quantization (its scale is calibrated)");
  for (const auto& k : plan_.kv)
    if (k.kv.method == KvMethod::Fp8) refuse(k.module + ": an FP8 KV cache (its scales are calibrated)");
}

at::Tensor Pipeline::park(const at::Tensor& h) const {
  if (!park_on_host_) return h;
  at::Tensor host = at::empty(h.sizes(), at::TensorOptions().dtype(h.scalar_type()).pinned_memory(true));
  // Asynchronous: the host copy is only ever read by a later copy back on the same stream, and
  // libtorch's pinned allocator keeps the buffer until the copies that use it are done.
  host.copy_(h, /*non_blocking=*/true);
  return host;
}

void Pipeline::lighten_reference(LayerState& s, bool measuring) const {
  if (!measuring) s.ref_weight = at::Tensor();
  else if (!s.plan->hadamard && !folded_.count(s.layer)) s.ref_weight = s.layer->original_weight();
  else if (!s.ref_weight.defined()) s.ref_weight = s.layer->weight().to(at::kFloat).clone();
}

// Without calibration data a layer's step needs only its own weight: one layer is resident at a
// time, and written out right after.
void Pipeline::compress_resident_layers(const std::vector<LayerState*>& states, bool measuring) {
  for (LayerState* s : states) {
    if (!has_weight_step(*s->plan) && !s->plan->hadamard) continue;
    Model::Resident resident(model_, {s->layer});
    if (s->plan->hadamard) rotate_layer_weight(*s->layer);
    if (has_weight_step(*s->plan)) compress_layer(*s, nullptr);
    lighten_reference(*s, measuring);
    model_.settle({s->layer});
  }
}

void Pipeline::streamed_outside_layers(bool measuring) {
  std::set<const Layer*> in_blocks;
  for (int64_t b = 0; b < model_.num_blocks(); ++b)
    for (Layer* l : model_.block_layers(b)) in_blocks.insert(l);
  for (auto& s : states_) {
    if (in_blocks.count(s->layer) || data_method(*s)) continue;
    // The head's reference stays for its measurement after the blocks; an embedding's input is
    // ids, so it has none.
    compress_resident_layers({s.get()}, measuring && s->layer->kind() != LayerKind::Embedding);
  }
}

void Pipeline::streamed_measure_outside(const std::vector<at::Tensor>& ms) {
  std::set<const Layer*> in_blocks;
  for (int64_t b = 0; b < model_.num_blocks(); ++b)
    for (Layer* l : model_.block_layers(b)) in_blocks.insert(l);
  std::vector<Layer*> outside;
  for (auto& s : states_)
    if (!in_blocks.count(s->layer) && s->layer->kind() != LayerKind::Embedding) outside.push_back(s->layer);
  if (outside.empty()) return;
  Model::Resident resident(model_, outside);
  for (Layer* l : outside) {
    LayerState& s = *by_layer_.at(l);
    s.ref_bias = l->bias().defined() ? l->bias().to(at::kFloat) : at::Tensor();
  }
  transforms_.install(model_.hooks(), measure_probes_, "quant");
  try {
    for (const auto& m : ms) model_.head(on_device(m));
  } catch (...) {
    transforms_.install_only(model_.hooks(), {"rotate"});
    throw;
  }
  transforms_.install_only(model_.hooks(), {"rotate"});
}

void Pipeline::streamed_pass() {
  at::NoGradGuard ng;
  bool any_data = false;
  for (auto& s : states_) any_data = any_data || data_method(*s);
  QUENCH_CHECK(!any_data || !calib_.empty(), "GPTQ, AWQ, Wanda, SparseGPT, ASVD and SVD-LLM need calibration data");
  const bool measuring = measuring_ = !calib_.empty() && opts_.measure_samples > 0;
  steps_total_ = model_.num_blocks() + 1;

  // Every transform is known before the first block: the rotations (their weights are rotated when
  // the layer is resident), the KV cache and the dynamic quantizers. Calibration passes see only the
  // rotations and measuring passes all of them, as in the whole-model pipeline.
  for (auto& s : states_)
    if (s->plan->hadamard) transforms_.add(s->layer->input_point(), "rotate", hadamard_input_transform());
  install_kv();
  calibrate_activations();  // nothing static (check_streamable): installs the dynamic quantizers only
  measure_probes_ = measuring ? measure_probes() : std::map<std::string, PointTransforms::Probe>{};
  transforms_.install_only(model_.hooks(), {"rotate"});

  step("compressing layers outside the blocks");
  streamed_outside_layers(measuring);
  ++steps_done_;

  // Calibration inputs (every batch, when a method needs data) and measuring inputs (the first
  // measure_samples batches, through the fully compressed model) of the current block.
  std::vector<at::Tensor> hs, ms;
  if (any_data) {
    for (const auto& b : calib_.batches) {
      hs.push_back(model_.embed(b));
      // Large calibration sets wait in pinned host memory when streaming on a GPU.
      if (hs.size() == 1 && model_.device().is_cuda())
        park_on_host_ = static_cast<double>(hs[0].nbytes()) * static_cast<double>(calib_.batches.size()) > double(uint64_t(1) << 30);
      hs.back() = park(hs.back());
    }
  }
  if (measuring) {
    transforms_.install(model_.hooks(), measure_probes_, "quant");
    for (const auto& b : calib_.first(opts_.measure_samples)) ms.push_back(park(model_.embed(b)));
    transforms_.install_only(model_.hooks(), {"rotate"});
  }
  model_.release_pages();
  trace_gpu_memory(model_.device(), "embedding the calibration samples");

  // Seconds per block: a model with more blocks of the same shapes takes that times its count.
  std::vector<double> block_seconds;
  for (int64_t i = 0; i < model_.num_blocks(); ++i) {
    const auto block_start = std::chrono::steady_clock::now();
    step("block " + std::to_string(i + 1) + "/" + std::to_string(model_.num_blocks()) + ": " + model_.block_name(i));
    const std::vector<Layer*> layers = model_.block_layers(i);
    std::vector<LayerState*> mine;
    for (Layer* l : layers)
      if (auto it = by_layer_.find(l); it != by_layer_.end()) mine.push_back(it->second);
    if (!any_data) compress_resident_layers(mine, measuring);
    std::optional<Model::Resident> resident;
    if (any_data || measuring) resident.emplace(model_, layers);
    if (any_data) {
      for (LayerState* s : mine)
        if (s->plan->hadamard) rotate_layer_weight(*s->layer);
      block_steps(i, hs);
      trace_gpu_memory(model_.device(), model_.block_name(i) + ": loading (and AWQ's scales)");
      for (const auto& stage : block_stages(model_, i)) {
        std::vector<Layer*> targets;
        for (Layer* l : stage)
          if (auto it = by_layer_.find(l); it != by_layer_.end() && has_weight_step(*it->second->plan)) targets.push_back(l);
        if (!targets.empty()) quantize_stage(i, hs, targets);
      }
      for (auto& h : hs) h = park(model_.block(i, on_device(h)));
      trace_gpu_memory(model_.device(), model_.block_name(i) + ": the compressed block's outputs");
    }
    if (measuring) {
      for (LayerState* s : mine) {
        if (!s->ref_weight.defined()) lighten_reference(*s, measuring);
        s->ref_bias = s->layer->bias().defined() ? s->layer->bias().to(at::kFloat) : at::Tensor();
      }
      transforms_.install(model_.hooks(), measure_probes_, "quant");
      try {
        for (auto& m : ms) m = park(model_.block(i, on_device(m)));
      } catch (...) {
        transforms_.install_only(model_.hooks(), {"rotate"});
        throw;
      }
      transforms_.install_only(model_.hooks(), {"rotate"});
      trace_gpu_memory(model_.device(), model_.block_name(i) + ": measuring");
    }
    // What the rows need is kept (errors, kept counts); the block's tensors go.
    for (LayerState* s : mine) {
      s->ref_weight = s->ref_bias = s->mask = at::Tensor();
    }
    model_.settle(layers);
    // settle() copied the block's changed weights to the host, which waited for the block's work.
    block_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - block_start).count());
    ++steps_done_;
  }
  details_["streamed"] = {{"blocks", model_.num_blocks()}, {"block_seconds", block_seconds}};
  if (any_data) outside_blocks_data_layers(hs);
  hs.clear();
  if (measuring) streamed_measure_outside(ms);
  for (auto& s : states_) s->ref_weight = s->ref_bias = at::Tensor();
  transforms_.install(model_.hooks());
}

}  // namespace quench::pipeline
