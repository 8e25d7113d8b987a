// GPT2LMHeadModel. transformers' GPT-2 uses Conv1D modules whose weight is [in, out]; we store it
// transposed, [out, in], so every Linear in Quench has one layout. Exports transpose back.
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/models/architecture.h"
#include "core/nn/functional.h"
#include "core/util/error.h"

namespace quench {
namespace {

class Gpt2 : public Model {
 public:
  explicit Gpt2(std::shared_ptr<const Checkpoint> ckpt) : Model("GPT2LMHeadModel", ckpt, Modality::Text) {
    const Config& c = config();
    hidden_ = c.get_size("n_embd");
    heads_ = c.get_size("n_head");
    QUENCH_CHECK(hidden_ % heads_ == 0, c.path(), ": n_embd ", hidden_, " is not a multiple of n_head ", heads_);
    eps_ = c.get_double_in("layer_norm_epsilon", 1e-5, 0, 1);
    act_ = c.get_string("activation_function", "gelu_new");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": activation_function '", act_, "' is not supported");
    scale_weights_ = c.get_bool("scale_attn_weights", true);
    scale_by_layer_ = c.get_bool("scale_attn_by_inverse_layer_idx", false);
    const int64_t L = layer_count("n_layer");
    // Checkpoints from the hub may or may not carry the "transformer." prefix.
    pre_ = has_tensor("transformer.wte.weight") ? "transformer." : "";
    const std::string tp = "transformer.";  // module names as transformers names them in GPT2LMHeadModel

    wte_ = add_layer_with(tp + "wte", LayerKind::Embedding, load(pre_ + "wte.weight"), at::Tensor());
    wpe_ = add_param_tensor(tp + "wpe.weight", load(pre_ + "wpe.weight"));
    const int64_t inner = c.get_size("n_inner", 4 * hidden_);
    expect_shape(wte_, {c.get_size("vocab_size"), hidden_});
    const int64_t positions = c.get_size("n_positions");
    expect_shape(tp + "wpe.weight", wpe_, {positions, hidden_});
    set_max_positions(positions, "n_positions");
    bind(pre_ + "wte.weight");
    bind(pre_ + "wpe.weight");
    for (int64_t i = 0; i < L; ++i) {
      const std::string src = pre_ + "h." + std::to_string(i), p = tp + "h." + std::to_string(i);
      Block b;
      b.prefix = p;
      b.ln1_w = param_from(p + ".ln_1.weight", src + ".ln_1.weight");
      b.ln1_b = param_from(p + ".ln_1.bias", src + ".ln_1.bias");
      b.ln2_w = param_from(p + ".ln_2.weight", src + ".ln_2.weight");
      b.ln2_b = param_from(p + ".ln_2.bias", src + ".ln_2.bias");
      b.c_attn = conv1d_linear(p + ".attn.c_attn", src + ".attn.c_attn");
      b.c_proj = conv1d_linear(p + ".attn.c_proj", src + ".attn.c_proj");
      b.fc = conv1d_linear(p + ".mlp.c_fc", src + ".mlp.c_fc");
      b.proj = conv1d_linear(p + ".mlp.c_proj", src + ".mlp.c_proj");
      for (auto* ln : {b.ln1_w, b.ln1_b, b.ln2_w, b.ln2_b}) expect_shape(p + " layer norm", ln, {hidden_});
      expect_shape(b.c_attn, {3 * hidden_, hidden_});
      expect_shape(b.c_proj, {hidden_, hidden_});
      expect_shape(b.fc, {inner, hidden_});
      expect_shape(b.proj, {hidden_, inner});
      b.q_point = p + ".attn:q";
      b.k_point = p + ".attn:k";
      b.v_point = p + ".attn:v";
      add_point(b.q_point, p + ".attn", "queries (what a KV cache is read with), [B, T, heads·head_dim]");
      add_point(b.k_point, p + ".attn", "keys (what a KV cache stores), [B, T, heads·head_dim]");
      add_point(b.v_point, p + ".attn", "values (what a KV cache stores), [B, T, heads·head_dim]");
      b.index = i;
      blocks_.push_back(std::move(b));
    }
    lnf_w_ = param_from(tp + "ln_f.weight", pre_ + "ln_f.weight");
    lnf_b_ = param_from(tp + "ln_f.bias", pre_ + "ln_f.bias");
    // GPT-2's head is always tied to wte in transformers.
    head_ = add_layer_with("lm_head", LayerKind::Linear, wte_->weight(), at::Tensor());
    if (has_tensor("lm_head.weight")) bind("lm_head.weight");
    check_all_tensors_used({".attn.bias", ".attn.masked_bias"});
  }

  at::Tensor embed(const ModelInputs& in) override {
    QUENCH_CHECK(in.input_ids.defined(), "GPT2LMHeadModel needs input_ids");
    const int64_t T = in.input_ids.size(1);
    QUENCH_CHECK(T <= wpe_->size(0), "GPT2LMHeadModel: sequence of ", T, " tokens is longer than n_positions ", wpe_->size(0));
    return wte_->forward(in.input_ids.to(device())) + wpe_->narrow(0, 0, T);
  }
  at::Tensor embed_step(const ModelInputs& in, int64_t pos) override {
    const int64_t T = in.input_ids.size(1);
    QUENCH_CHECK(pos + T <= wpe_->size(0), "GPT2LMHeadModel: position ", pos + T, " is beyond n_positions ", wpe_->size(0));
    return wte_->forward(in.input_ids.to(device())) + wpe_->narrow(0, pos, T);
  }
  bool can_decode() const override { return true; }
  at::Tensor block_step(int64_t i, const at::Tensor& h, DecodeCache& cache) override { return run_block(i, h, &cache); }
  int64_t num_blocks() const override { return static_cast<int64_t>(blocks_.size()); }
  std::string block_name(int64_t i) const override { return blocks_.at(i).prefix; }

  at::Tensor block(int64_t i, const at::Tensor& h) override { return run_block(i, h, nullptr); }

  // With a cache, h's tokens follow the cached ones, whose keys and values it holds as [B, H, S, D].
  at::Tensor run_block(int64_t i, const at::Tensor& h, DecodeCache* cache) {
    const Block& b = blocks_.at(i);
    const int64_t B = h.size(0), T = h.size(1), D = hidden_ / heads_;
    auto x = layer_norm(h, *b.ln1_w, *b.ln1_b, eps_);
    auto qkv = b.c_attn->forward(x);
    const int64_t H = qkv.size(-1) / 3 / D;  // from the weights: heads can be pruned
    auto parts = qkv.split(H * D, -1);
    auto q = parts[0].view({B, T, H, D}).transpose(1, 2);
    auto k = parts[1].view({B, T, H, D}).transpose(1, 2);
    auto v = parts[2].view({B, T, H, D}).transpose(1, 2);
    if (hooks().active()) {
      q = hooks().tap(b.q_point, q.transpose(1, 2).reshape({B, T, H * D})).view({B, T, H, D}).transpose(1, 2);
      k = hooks().tap(b.k_point, k.transpose(1, 2).reshape({B, T, H * D})).view({B, T, H, D}).transpose(1, 2);
      v = hooks().tap(b.v_point, v.transpose(1, 2).reshape({B, T, H * D})).view({B, T, H, D}).transpose(1, 2);
    }
    if (cache) std::tie(k, v) = kv_store(i, *cache).append(k, v);
    double scale = scale_weights_ ? 1.0 / std::sqrt(static_cast<double>(D)) : 1.0;
    if (scale_by_layer_) scale /= static_cast<double>(b.index + 1);
    auto a = attention(q, k, v, scale, true).transpose(1, 2).reshape({B, T, H * D});
    auto h2 = h + b.c_proj->forward(a);
    auto y = layer_norm(h2, *b.ln2_w, *b.ln2_b, eps_);
    return h2 + b.proj->forward(activation(b.fc->forward(y), act_));
  }

  at::Tensor final_norm(const at::Tensor& h) override { return layer_norm(h, *lnf_w_, *lnf_b_, eps_); }
  at::Tensor output(const at::Tensor& normed) override { return head_->forward(normed); }
  int64_t attention_head_dim() const override { return hidden_ / heads_; }

 private:
  struct Block {
    std::string prefix, q_point, k_point, v_point;
    at::Tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    Layer *c_attn, *c_proj, *fc, *proj;
    int64_t index = 0;
  };

  void bind(const std::string& n) { mark_used(n); }
  at::Tensor* param_from(const std::string& name, const std::string& src) {
    bind(src);
    return add_param_tensor(name, load(src));
  }
  Layer* conv1d_linear(const std::string& name, const std::string& src) {
    bind(src + ".weight");
    bind(src + ".bias");
    return add_layer_with(name, LayerKind::Linear, load(src + ".weight").t(), load(src + ".bias"));
  }

  int64_t hidden_ = 0, heads_ = 0;
  double eps_ = 1e-5;
  std::string act_, pre_;
  bool scale_weights_ = true, scale_by_layer_ = false;
  Layer *wte_ = nullptr, *head_ = nullptr;
  at::Tensor *wpe_ = nullptr, *lnf_w_ = nullptr, *lnf_b_ = nullptr;
  std::vector<Block> blocks_;
};

}  // namespace

const ArchitectureFamily& gpt2_family() {
  static const ArchitectureFamily family = [] {
    using P = ScaleGroup::Prev;
    ArchitectureFamily f{"GPT-2",
                         {{"GPT2LMHeadModel", "gpt2", "gpt2"}},
                         Modality::Text,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<Gpt2>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "lm_head";
    s.groups = {{P::LayerNorm, "ln_1", {"attn.c_attn"}, true}, {P::LayerNorm, "ln_2", {"mlp.c_fc"}, true}};
    s.stages = {{"attn.c_attn"}, {"attn.c_proj"}, {"mlp.c_fc"}, {"mlp.c_proj"}};
    s.gguf_tensors = {
        {"transformer.wte.weight", "token_embd.weight"},
        {"transformer.wpe.weight", "position_embd.weight"},
        {"transformer.ln_f.{W}", "output_norm.{W}"},
        {"lm_head.weight", "output.weight"},
        {"transformer.h.{N}.ln_1.{W}", "blk.{N}.attn_norm.{W}"},
        {"transformer.h.{N}.ln_2.{W}", "blk.{N}.ffn_norm.{W}"},
        {"transformer.h.{N}.attn.c_attn.{W}", "blk.{N}.attn_qkv.{W}"},
        {"transformer.h.{N}.attn.c_proj.{W}", "blk.{N}.attn_output.{W}"},
        {"transformer.h.{N}.mlp.c_fc.{W}", "blk.{N}.ffn_up.{W}"},
        {"transformer.h.{N}.mlp.c_proj.{W}", "blk.{N}.ffn_down.{W}"},
    };
    // transformers saves GPT2LMHeadModel with the "transformer." prefix; the original GPT-2 files lack it.
    s.gguf_optional_prefix = "transformer.";
    return f;
  }();
  return family;
}

}  // namespace quench
