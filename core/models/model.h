#pragma once
// The model interface every architecture implements, with a staged forward
// (embed → blocks → head) so block-wise methods (GPTQ, AWQ, SparseGPT, FLAP) can run one
// block at a time on recorded inputs.
#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io/config.h"
#include "core/models/kv_store.h"
#include "core/nn/hooks.h"
#include "core/nn/layer.h"

namespace quench {

enum class Modality { Text, Image };

struct ModelInputs {
  at::Tensor input_ids;     // int64 [B, T] (text)
  at::Tensor pixel_values;  // float [B, C, H, W] (image)
};

struct ModelOutputs {
  at::Tensor logits;                     // [B, T, vocab] or [B, classes]
  std::vector<at::Tensor> hidden_states;  // numbered as transformers numbers them
};

// A tensor the forward pass exposes for observation or replacement.
struct PointInfo {
  std::string name;         // "model.layers.0.self_attn:k"
  std::string layer;        // module it belongs to
  std::string description;  // for people: "keys after RoPE, [B, T, kv_heads*head_dim]"
};

class Model {
 public:
  Model(std::string architecture, std::shared_ptr<const Checkpoint> ckpt, Modality modality);
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& architecture() const { return architecture_; }
  Modality modality() const { return modality_; }
  const Config& config() const { return ckpt_->config(); }
  const Checkpoint& checkpoint() const { return *ckpt_; }

  // --- staged forward ---
  virtual at::Tensor embed(const ModelInputs& in) = 0;
  virtual int64_t num_blocks() const = 0;
  virtual at::Tensor block(int64_t i, const at::Tensor& h) = 0;
  virtual at::Tensor final_norm(const at::Tensor& h) { return h; }
  virtual at::Tensor output(const at::Tensor& normed) = 0;  // LM head or classifier
  at::Tensor head(const at::Tensor& h) { return output(final_norm(h)); }
  // The module-name prefix of block i ("model.layers.3"); its layers share this prefix.
  virtual std::string block_name(int64_t i) const = 0;
  ModelOutputs forward(const ModelInputs& in, bool hidden_states = false);
  // Every batch's logits, in order, to `done`. A streamed model runs every batch through block 0,
  // then all through block 1, ...: each block is converted and read from the file once for all
  // batches (their hidden states are kept meanwhile), the same computation as forward() batch by
  // batch. A model loaded whole runs forward() on each. on_block(i, n) after each streamed block.
  // Batches go through the blocks in groups whose hidden states stay under max_hidden_bytes (a
  // group holds at least one batch); each group converts every block once.
  void forward_batches(const std::vector<ModelInputs>& batches, const std::function<void(size_t, const at::Tensor&)>& done,
                       const std::function<void(int64_t, int64_t)>& on_block = {}, uint64_t max_hidden_bytes = uint64_t(256) << 20);

  // --- incremental decoding (generation) ---
  // What each block keeps between decoding steps: an attention block's keys and values so far.
  struct DecodeCache {
    std::vector<std::vector<at::Tensor>> blocks;  // per block, in the architecture's own layout (recurrent states)
    std::vector<std::unique_ptr<KvStore>> kv;     // per block: an attention block's keys and values
    int64_t pos = 0;                              // tokens the cache holds
    int64_t kv_bytes() const;                     // what the key/value stores keep (recurrent states aside)
    int64_t bytes() const;                        // everything: stores and recurrent states
  };
  // The key/value store block i of this cache decodes with (made on first use: the model's store
  // factory's, else a float store).
  KvStore& kv_store(int64_t i, DecodeCache& cache) const;
  // How blocks keep their keys and values while decoding (null: float). A KV-cache method sets it
  // with the transforms that simulate it in whole-sequence passes; those transforms check
  // decoding() and let the tokens through, since the store does the real thing.
  using KvStoreFactory = std::function<std::unique_ptr<KvStore>(int64_t block)>;
  void set_kv_store_factory(KvStoreFactory f) { kv_factory_ = std::move(f); }
  bool has_kv_store_factory() const { return static_cast<bool>(kv_factory_); }
  bool decoding() const { return decoding_; }
  // True when the architecture implements block_step.
  virtual bool can_decode() const { return false; }
  // Logits [B, T, vocab] of new tokens ids [B, T] that follow the cache.pos tokens already in the
  // cache, which then holds them too: the same numbers forward() gives on the whole sequence.
  at::Tensor decode(const at::Tensor& ids, DecodeCache& cache);

  // --- compressible layers and observable points ---
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  Layer* find_layer(const std::string& name) const;
  Layer& layer(const std::string& name) const;  // throws naming the layer
  std::vector<Layer*> block_layers(int64_t i) const;
  const std::vector<PointInfo>& points() const { return points_; }
  Hooks& hooks() { return hooks_; }
  const Hooks& hooks() const { return hooks_; }

  // --- tensors ---
  void to(at::Device device, at::ScalarType dtype);
  // The model streamed from its checkpoint: layers stay as stored in the mapped files and one
  // block at a time is converted to device/dtype while forward() runs it; small parameters
  // (norms, A_log, ...) are converted once. For forward-only jobs (eval, calibrate, forward):
  // compressing a streamed model is refused by its layers.
  void stream(at::Device device, at::ScalarType dtype, int64_t slice_bytes = kAtRestSliceBytes);
  bool streaming() const { return streaming_; }
  // A streamed model's layers, converted for as long as this lives (a block while it runs, or
  // while compress changes it); their copies and the file pages they read are let go after.
  class Resident {
   public:
    Resident(Model& model, std::vector<Layer*> layers);
    ~Resident();
    Resident(const Resident&) = delete;
    Resident& operator=(const Resident&) = delete;

   private:
    Model& model_;
    std::vector<Layer*> layers_;
  };
  // Writes the resident, changed layers among `layers` (compressed weights, in the compute dtype,
  // so values are exact) to a file in the temporary directory and lets them rest on it: a
  // streamed model keeps its compressed blocks on disk, not in memory. The file is unlinked once
  // mapped; it is gone when the model (or reset_compression) lets go of it.
  void settle(const std::vector<Layer*>& layers);
  // Lets go of the file pages a streamed model read (checkpoint and settled blocks).
  void release_pages() const;
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  int64_t parameter_count() const;  // distinct parameters (tied counted once), buffers excluded
  const std::map<std::string, at::Tensor>& params() const { return params_; }
  bool is_buffer(const std::string& name) const;  // running statistics and the like (not parameters)
  at::Tensor& param(const std::string& name);  // non-layer parameter or buffer by HF name
  // Replaces a non-layer parameter (a norm weight that SmoothQuant or AWQ folds scales into),
  // keeping the original for reset_compression(). Shape must match; converted to its dtype/device.
  void set_param(const std::string& name, const at::Tensor& t);
  bool param_modified(const std::string& name) const { return original_params_.count(name) != 0; }

  // Restores every layer's original weights and every replaced parameter, and drops kernels and transforms.
  void reset_compression();

  // Config entries that describe the model's layer shapes as they are now, when they differ from
  // config.json (structured pruning): merged into the config of a saved model, read back by the
  // architecture's constructor. Empty when the shapes are the config's.
  virtual nlohmann::json shape_config() const { return nlohmann::json::object(); }

  // The longest sequence the model can run (a learned position table's rows); 0 when nothing in
  // the architecture bounds it (RoPE, state-space models). Checked before any window runs.
  int64_t max_positions() const { return max_positions_; }
  // The shortest sliding attention window of any layer (a token sees itself and the window − 1
  // tokens before it); 0 when every layer attends to the whole context.
  virtual int64_t attention_window() const { return 0; }
  // The size of one attention head, which splits the :q and :k points' channels into heads; 0
  // without attention.
  virtual int64_t attention_head_dim() const { return 0; }
  // Throws naming the config key and the command's option when ctx tokens exceed max_positions().
  void check_context(int64_t ctx, const std::string& option) const;

 protected:
  // How transformers numbers hidden_states for this architecture.
  enum class HiddenStates {
    EmbeddingsThenBlocksLastNormed,  // Llama, GPT-2: [emb, b1, …, b(L−1), norm(bL)]
    EmbeddingsThenBlocks,            // ViT, ResNet: [emb, b1, …, bL]
    BlocksThenNormed,                // Mamba, Mamba-2: [b1, …, bL, norm(bL)]
  };
  virtual HiddenStates hidden_states_style() const { return HiddenStates::EmbeddingsThenBlocksLastNormed; }
  // The embeddings of tokens at positions pos … pos + T − 1 (learned position tables add theirs).
  virtual at::Tensor embed_step(const ModelInputs& in, int64_t /*pos*/) { return embed(in); }
  // Block i on hidden states h [B, T, hidden] of tokens at positions cache.pos … cache.pos + T − 1,
  // reading cache.blocks[i] and appending these tokens to it. Only where can_decode() is true.
  virtual at::Tensor block_step(int64_t i, const at::Tensor& h, DecodeCache& cache);
  // Whether hidden_states gets an entry after block i (ResNet records one per stage, not per block).
  virtual bool records_hidden_state(int64_t /*i*/) const { return true; }

  // Binds a checkpoint tensor as a compressible layer (bias optional unless required).
  Layer* add_layer(const std::string& name, LayerKind kind, bool bias, ConvSpec conv = {});
  Layer* add_layer_with(const std::string& name, LayerKind kind, at::Tensor weight, at::Tensor bias, ConvSpec conv = {});
  // Binds a non-compressible parameter (norm weights, A_log, ...) or buffer (running stats).
  at::Tensor* add_param(const std::string& name, bool buffer = false);
  at::Tensor* add_param_tensor(const std::string& name, at::Tensor t, bool buffer = false);
  bool has_tensor(const std::string& name) const { return ckpt_->has(name); }
  // A layer count from config.json: at least 1, and no more than the checkpoint has tensors.
  int64_t layer_count(const std::string& key) const;
  // For architectures with a learned position table: its length and the config key it came from.
  void set_max_positions(int64_t n, std::string key) { max_positions_ = n, max_positions_key_ = std::move(key); }
  // Records that a checkpoint tensor was consumed (for tensors bound under another name).
  void mark_used(const std::string& checkpoint_name) { bound_.push_back(checkpoint_name); }
  at::Tensor load(const std::string& name) const;
  void add_point(const std::string& name, const std::string& layer, const std::string& description);
  // Throws unless a bound tensor has the shape the config implies (-1: any size), naming both.
  void expect_shape(const std::string& name, at::IntArrayRef actual, const std::vector<int64_t>& expected) const;
  void expect_shape(const Layer* l, const std::vector<int64_t>& expected) const { expect_shape(l->name() + ".weight", l->weight().sizes(), expected); }
  void expect_shape(const std::string& name, const at::Tensor* t, const std::vector<int64_t>& expected) const {
    expect_shape(name, t->sizes(), expected);
  }
  // Throws unless every checkpoint tensor was bound (or is known to be ignorable).
  void check_all_tensors_used(const std::vector<std::string>& ignorable_suffixes = {}) const;

 private:
  int64_t max_positions_ = 0;
  std::string max_positions_key_;
  std::string architecture_;
  std::shared_ptr<const Checkpoint> ckpt_;
  std::vector<std::shared_ptr<const SafetensorsFile>> settled_;  // Model::settle's files
  Modality modality_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::map<std::string, size_t> layer_index_;
  std::map<std::string, at::Tensor> params_;
  std::map<std::string, at::Tensor> original_params_;  // parameters replaced by set_param
  std::map<std::string, bool> is_buffer_;
  std::vector<PointInfo> points_;
  std::vector<std::string> bound_;
  Hooks hooks_;
  at::Device device_{at::kCPU};
  at::ScalarType dtype_ = at::kFloat;
  bool streaming_ = false;
  KvStoreFactory kv_factory_;
  bool decoding_ = false;  // inside decode()
};

}  // namespace quench
