#pragma once
// What Mamba-1 and Mamba-2 share around their mixers (transformers' MambaModel / Mamba2Model):
// backbone.embeddings → per layer a pre-norm (backbone.layers.i.norm) and the mixer, added to a
// residual stream kept in float32 when residual_in_fp32 → backbone.norm_f → lm_head (tied to the
// embeddings unless the config says otherwise). The architecture files bind and compute the mixer.
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/models/model.h"

namespace quench {

class MambaBackbone : public Model {
 public:
  at::Tensor embed(const ModelInputs& in) override;
  int64_t num_blocks() const override { return static_cast<int64_t>(prefixes_.size()); }
  std::string block_name(int64_t i) const override { return prefixes_.at(i); }
  at::Tensor block(int64_t i, const at::Tensor& h) override;
  bool can_decode() const override { return true; }
  at::Tensor final_norm(const at::Tensor& h) override;
  at::Tensor output(const at::Tensor& normed) override;

 protected:
  // Reads layer_norm_epsilon and residual_in_fp32 and binds the embeddings ([vocab, hidden_size]).
  MambaBackbone(const std::string& architecture, std::shared_ptr<const Checkpoint> ckpt);
  // Binds block i's pre-norm; the mixer's layers are the subclass's. Returns the mixer's prefix
  // ("backbone.layers.i.mixer").
  std::string add_block(int64_t i);
  // After the blocks: norm_f and the head; then every checkpoint tensor must have been bound.
  void finish();
  // state: null for a whole sequence; when decoding, block i's {conv window, scan state}, read and
  // replaced (both undefined before the first token).
  virtual at::Tensor mixer(int64_t i, const at::Tensor& x, std::vector<at::Tensor>* state) = 0;
  at::Tensor block_step(int64_t i, const at::Tensor& h, DecodeCache& cache) override;
  // The depthwise causal conv (kernel k, padding k − 1) on x [B, C, T]: with a state, the last
  // k − 1 inputs of the earlier tokens come first instead of zeros, and the window moves on.
  static at::Tensor causal_conv(Layer& conv, const at::Tensor& x, int64_t k, std::vector<at::Tensor>* state);
  HiddenStates hidden_states_style() const override { return HiddenStates::BlocksThenNormed; }

  double eps_ = 1e-5;
  int64_t hidden_ = 0;

 private:
  bool residual_fp32_ = true;
  Layer *embed_ = nullptr, *head_ = nullptr;
  at::Tensor* norm_f_ = nullptr;
  std::vector<std::string> prefixes_;
  std::vector<at::Tensor*> norms_;  // [hidden] per block
};

// What Mamba and Mamba-2 declare alike (their architecture files add their mixers' own).
// Quamba's settings: static symmetric per-tensor 8-bit weights (w8) and activations (a8), and the
// scan input's percentile range (a8x: the 99.999th |x| percentile, as the paper clips it).
struct QuambaSettings {
  nlohmann::json w8, a8, a8x;
};
QuambaSettings quamba_settings();
// The GGUF tensor names of the backbone: embeddings, final norm, head, the block's norm, in_proj, conv1d.
std::vector<std::pair<std::string, std::string>> backbone_gguf_tensors();

}  // namespace quench
