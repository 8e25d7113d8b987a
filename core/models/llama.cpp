// LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM: one decoder with
// optional q/k/v/o and MLP biases (present in the checkpoint or not), grouped-query attention,
// RoPE, and sliding windows where the config asks for them (Mistral's sliding_window, Qwen2's
// layer_types). Qwen3 adds an RMSNorm over each query and key head (q_norm, k_norm) before RoPE.
#include <ATen/ATen.h>

#include <algorithm>
#include <limits>
#include <tuple>

#include "core/models/architecture.h"
#include "core/nn/functional.h"
#include "core/util/error.h"

namespace quench {
namespace {

class Llama : public Model {
 public:
  explicit Llama(std::shared_ptr<const Checkpoint> ckpt) : Model(ckpt->config().architecture(), ckpt, Modality::Text) {
    const Config& c = config();
    hidden_ = c.get_size("hidden_size");
    heads_ = c.get_size("num_attention_heads");
    qk_norm_ = architecture() == "Qwen3ForCausalLM";
    // transformers' Qwen3Config defaults head_dim to 128, not hidden / heads.
    head_dim_ = c.get_size("head_dim", qk_norm_ ? 128 : hidden_ / heads_);
    eps_ = c.get_double_in("rms_norm_eps", 1e-6, 0, 1);
    act_ = c.get_string("hidden_act", "silu");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": hidden_act '", act_, "' is not supported");
    rope_ = make_rope(c, head_dim_);
    const int64_t L = layer_count("num_hidden_layers");
    const int64_t kv_heads = c.get_size("num_key_value_heads", heads_);
    const int64_t inter = c.get_size("intermediate_size");
    const int64_t vocab = c.get_size("vocab_size");
    QUENCH_CHECK(kv_heads > 0 && heads_ % kv_heads == 0, c.path(), ": num_attention_heads ", heads_,
                 " is not a multiple of num_key_value_heads ", kv_heads);

    const LayerSizes sizes(c, L, inter, heads_, kv_heads);
    embed_ = add_layer("model.embed_tokens", LayerKind::Embedding, false);
    expect_shape(embed_, {vocab, hidden_});
    for (int64_t i = 0; i < L; ++i) {
      const std::string p = "model.layers." + std::to_string(i);
      Block b;
      b.prefix = p;
      b.in_norm = add_param(p + ".input_layernorm.weight");
      b.post_norm = add_param(p + ".post_attention_layernorm.weight");
      b.q = add_layer(p + ".self_attn.q_proj", LayerKind::Linear, false);
      b.k = add_layer(p + ".self_attn.k_proj", LayerKind::Linear, false);
      b.v = add_layer(p + ".self_attn.v_proj", LayerKind::Linear, false);
      b.o = add_layer(p + ".self_attn.o_proj", LayerKind::Linear, false);
      b.gate = add_layer(p + ".mlp.gate_proj", LayerKind::Linear, false);
      b.up = add_layer(p + ".mlp.up_proj", LayerKind::Linear, false);
      b.down = add_layer(p + ".mlp.down_proj", LayerKind::Linear, false);
      if (qk_norm_) {
        b.q_norm = add_param(p + ".self_attn.q_norm.weight");
        b.k_norm = add_param(p + ".self_attn.k_norm.weight");
        expect_shape(p + ".self_attn.q_norm.weight", b.q_norm, {head_dim_});
        expect_shape(p + ".self_attn.k_norm.weight", b.k_norm, {head_dim_});
      }
      b.q_point = p + ".self_attn:q";
      b.k_point = p + ".self_attn:k";
      b.v_point = p + ".self_attn:v";
      add_point(b.q_point, p + ".self_attn", "queries after RoPE (what a KV cache is read with), [B, T, heads·head_dim]");
      add_point(b.k_point, p + ".self_attn", "keys after RoPE (what a KV cache stores), [B, T, kv_heads·head_dim]");
      add_point(b.v_point, p + ".self_attn", "values (what a KV cache stores), [B, T, kv_heads·head_dim]");
      b.window = sliding_window(c, i);
      expect_shape(p + ".input_layernorm.weight", b.in_norm, {hidden_});
      expect_shape(p + ".post_attention_layernorm.weight", b.post_norm, {hidden_});
      const int64_t h = sizes.heads[i], hkv = sizes.kv_heads[i], n = sizes.inter[i];
      QUENCH_CHECK(hkv > 0 && h % hkv == 0, c.path(), ": layer ", i, " has ", h, " query heads, not a multiple of its ", hkv, " key/value heads");
      expect_shape(b.q, {h * head_dim_, hidden_});
      expect_shape(b.k, {hkv * head_dim_, hidden_});
      expect_shape(b.v, {hkv * head_dim_, hidden_});
      expect_shape(b.o, {hidden_, h * head_dim_});
      expect_shape(b.gate, {n, hidden_});
      expect_shape(b.up, {n, hidden_});
      expect_shape(b.down, {hidden_, n});
      blocks_.push_back(std::move(b));
    }
    norm_ = add_param("model.norm.weight");
    expect_shape("model.norm.weight", norm_, {hidden_});
    const bool tied = c.get_bool("tie_word_embeddings", !has_tensor("lm_head.weight"));
    if (tied || !has_tensor("lm_head.weight")) {
      QUENCH_CHECK(tied, ckpt->dir(), ": missing tensor 'lm_head.weight' and tie_word_embeddings is false");
      head_ = add_layer_with("lm_head", LayerKind::Linear, embed_->weight(), at::Tensor());
      check_all_tensors_used({"lm_head.weight", "rotary_emb.inv_freq"});
    } else {
      head_ = add_layer("lm_head", LayerKind::Linear, false);
      expect_shape(head_, {vocab, hidden_});
      check_all_tensors_used({"rotary_emb.inv_freq"});
    }
  }

  at::Tensor embed(const ModelInputs& in) override {
    QUENCH_CHECK(in.input_ids.defined(), architecture(), " needs input_ids");
    return embed_->forward(in.input_ids.to(device()));
  }
  int64_t num_blocks() const override { return static_cast<int64_t>(blocks_.size()); }
  std::string block_name(int64_t i) const override { return blocks_.at(i).prefix; }

  at::Tensor block(int64_t i, const at::Tensor& h) override { return run_block(i, h, nullptr); }

  bool can_decode() const override { return true; }
  at::Tensor block_step(int64_t i, const at::Tensor& h, DecodeCache& cache) override { return run_block(i, h, &cache); }

  // The block on h's tokens; with a cache they follow cache->pos earlier tokens, whose keys and
  // values (after RoPE and any KV-cache transform at the points) the cache holds as [B, Hkv, S, D].
  at::Tensor run_block(int64_t i, const at::Tensor& h, DecodeCache* cache) {
    const Block& b = blocks_.at(i);
    const int64_t B = h.size(0), T = h.size(1), pos = cache ? cache->pos : 0;
    auto x = rms_norm(h, *b.in_norm, eps_);
    // Head counts come from the weights, so structured pruning can remove heads.
    const int64_t H = b.q->out_features() / head_dim_, Hkv = b.k->out_features() / head_dim_;
    auto q = b.q->forward(x).view({B, T, H, head_dim_});
    auto k = b.k->forward(x).view({B, T, Hkv, head_dim_});
    if (b.q_norm) {
      q = rms_norm(q, *b.q_norm, eps_);
      k = rms_norm(k, *b.k_norm, eps_);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    auto v = b.v->forward(x).view({B, T, Hkv, head_dim_}).transpose(1, 2);
    const auto& [cos_all, sin_all] = tables(pos + T, h);
    const at::Tensor cos = cos_all.narrow(0, pos, T), sin = sin_all.narrow(0, pos, T);
    q = apply_rope(q, cos, sin);
    k = apply_rope(k, cos, sin);
    q = tap_heads(b.q_point, q);
    k = tap_heads(b.k_point, k);
    v = tap_heads(b.v_point, v);
    if (cache) {
      KvStore& store = kv_store(i, *cache);
      QUENCH_CHECK(store.tokens() == pos, block_name(i), ": the cache holds ", store.tokens(), " tokens, expected ", pos);
      std::tie(k, v) = store.append(k, v);
    }
    auto a = attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(head_dim_)), true, b.window);
    a = a.transpose(1, 2).reshape({B, T, H * head_dim_});
    auto h2 = h + b.o->forward(a);
    auto y = rms_norm(h2, *b.post_norm, eps_);
    auto m = b.down->forward(activation(b.gate->forward(y), act_) * b.up->forward(y));
    return h2 + m;
  }

  // Per-layer sizes once structured pruning has made any layer differ from the config.
  nlohmann::json shape_config() const override {
    std::vector<int64_t> inter, heads, kv;
    bool differ = false;
    for (const Block& b : blocks_) {
      inter.push_back(b.down->in_features());
      heads.push_back(b.q->out_features() / head_dim_);
      kv.push_back(b.k->out_features() / head_dim_);
      differ = differ || inter.back() != b.down->original_weight().size(1) || heads.back() * head_dim_ != b.q->original_weight().size(0);
    }
    if (!differ && !config().has(kLayerSizesKey)) return nlohmann::json::object();
    return {{kLayerSizesKey, {{"intermediate_size", inter}, {"num_attention_heads", heads}, {"num_key_value_heads", kv}}}};
  }

  int64_t attention_head_dim() const override { return head_dim_; }

  int64_t attention_window() const override {
    int64_t w = 0;
    for (const Block& b : blocks_)
      if (b.window > 0 && (w == 0 || b.window < w)) w = b.window;
    return w;
  }

  at::Tensor final_norm(const at::Tensor& h) override { return rms_norm(h, *norm_, eps_); }
  at::Tensor output(const at::Tensor& normed) override { return head_->forward(normed); }

 private:
  struct Block {
    std::string prefix, q_point, k_point, v_point;
    at::Tensor *in_norm = nullptr, *post_norm = nullptr;  // [hidden]
    at::Tensor *q_norm = nullptr, *k_norm = nullptr;      // [head_dim], Qwen3 only
    Layer *q = nullptr, *k = nullptr, *v = nullptr, *o = nullptr, *gate = nullptr, *up = nullptr, *down = nullptr;
    int64_t window = 0;
  };

  // Quench's own config key for per-layer sizes (a structurally pruned model saved by
  // save_model): transformers' Llama has one intermediate_size and one head count for all layers.
  static constexpr const char* kLayerSizesKey = "quench_layer_sizes";
  struct LayerSizes {
    std::vector<int64_t> inter, heads, kv_heads;
    LayerSizes(const Config& c, int64_t L, int64_t inter0, int64_t heads0, int64_t kv0)
        : inter(L, inter0), heads(L, heads0), kv_heads(L, kv0) {
      if (!c.has(kLayerSizesKey)) return;
      const auto& j = c.json()[kLayerSizesKey];
      QUENCH_CHECK(j.is_object(), c.path(), ": ", kLayerSizesKey, " must be an object");
      for (auto [key, out] : {std::pair<const char*, std::vector<int64_t>*>{"intermediate_size", &inter},
                              {"num_attention_heads", &heads},
                              {"num_key_value_heads", &kv_heads}}) {
        if (!j.contains(key)) continue;
        const auto& a = j[key];
        QUENCH_CHECK(a.is_array() && static_cast<int64_t>(a.size()) == L, c.path(), ": ", kLayerSizesKey, ".", key, " must list ", L,
                     " sizes (one per layer)");
        for (int64_t i = 0; i < L; ++i) {
          QUENCH_CHECK(a[i].is_number_integer() && a[i].get<int64_t>() > 0, c.path(), ": ", kLayerSizesKey, ".", key, "[", i,
                       "] must be a positive integer, got ", a[i].dump());
          (*out)[i] = a[i].get<int64_t>();
        }
      }
    }
  };

  static int64_t sliding_window(const Config& c, int64_t layer) {
    if (!c.has("sliding_window")) return 0;
    const int64_t w = c.get_int_in("sliding_window", 0, std::numeric_limits<int32_t>::max());
    if (c.has("layer_types")) {
      const auto& lt = c.json()["layer_types"];
      QUENCH_CHECK(lt.is_array() && layer < static_cast<int64_t>(lt.size()), c.path(), ": layer_types has no entry for layer ", layer);
      return lt[layer] == "sliding_attention" ? w : 0;
    }
    if (c.has("use_sliding_window")) {  // Qwen2 before layer_types
      if (!c.get_bool("use_sliding_window", false)) return 0;
      return layer >= c.get_int_in("max_window_layers", 0, 0, std::numeric_limits<int32_t>::max()) ? w : 0;
    }
    return w;  // Mistral: every layer
  }

  // K/V are observed token-major, [B, T, heads·head_dim], the layout KV-cache quantizers see.
  at::Tensor tap_heads(const std::string& point, const at::Tensor& t) {
    if (!hooks().active()) return t;
    const int64_t B = t.size(0), Hk = t.size(1), T = t.size(2), D = t.size(3);
    auto flat = t.transpose(1, 2).reshape({B, T, Hk * D});
    auto out = hooks().tap(point, flat, -1);
    if (out.is_same(flat)) return t;
    return out.view({B, T, Hk, D}).transpose(1, 2);
  }

  // Tables for at least T positions (callers take the rows they need): a row depends only on its
  // position, so decoding step by step reuses one table instead of rebuilding it every token.
  const std::pair<at::Tensor, at::Tensor>& tables(int64_t T, const at::Tensor& like) {
    if (rope_T_ < T || !rope_cache_.first.defined() || rope_cache_.first.device() != like.device() ||
        rope_cache_.first.scalar_type() != like.scalar_type()) {
      const int64_t n = rope_T_ > 0 && rope_T_ < T ? std::max(T, 2 * rope_T_) : T;
      rope_cache_ = rope_tables(rope_, n, like.device(), like.scalar_type());
      rope_T_ = n;
    }
    return rope_cache_;
  }

  int64_t hidden_ = 0, heads_ = 0, head_dim_ = 0;
  bool qk_norm_ = false;
  double eps_ = 1e-6;
  std::string act_;
  Rope rope_;
  Layer* embed_ = nullptr;
  Layer* head_ = nullptr;
  at::Tensor* norm_ = nullptr;
  std::vector<Block> blocks_;
  std::pair<at::Tensor, at::Tensor> rope_cache_;
  int64_t rope_T_ = -1;
};

}  // namespace

const ArchitectureFamily& llama_family() {
  static const ArchitectureFamily family = [] {
    using P = ScaleGroup::Prev;
    ArchitectureFamily f{"Llama, Qwen2, Qwen3 and Mistral",
                         {{"LlamaForCausalLM", "llama", "llama"},
                          {"Qwen2ForCausalLM", "qwen2", "qwen2"},
                          {"Qwen3ForCausalLM", "qwen3", "qwen3"},
                          {"MistralForCausalLM", "mistral", "llama"}},
                         Modality::Text,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<Llama>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "lm_head";
    s.groups = {{P::RmsNorm, "input_layernorm", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, true},
                // v → o only without grouped-query attention (shapes chain only then; checked per model)
                {P::LinearRows, "self_attn.v_proj", {"self_attn.o_proj"}, false},
                {P::RmsNorm, "post_attention_layernorm", {"mlp.gate_proj", "mlp.up_proj"}, true},
                {P::LinearRows, "mlp.up_proj", {"mlp.down_proj"}, false}};
    s.stages = {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, {"self_attn.o_proj"}, {"mlp.gate_proj", "mlp.up_proj"}, {"mlp.down_proj"}};
    s.no_clip = {"self_attn.q_proj", "self_attn.k_proj"};
    s.kv_projections = {"self_attn.k_proj", "self_attn.v_proj"};
    s.prunable = AttentionMlpRoles{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                   "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    s.gguf_tensors = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
        {"model.layers.{N}.input_layernorm.weight", "blk.{N}.attn_norm.weight"},
        {"model.layers.{N}.post_attention_layernorm.weight", "blk.{N}.ffn_norm.weight"},
        {"model.layers.{N}.self_attn.q_proj.{W}", "blk.{N}.attn_q.{W}"},
        {"model.layers.{N}.self_attn.k_proj.{W}", "blk.{N}.attn_k.{W}"},
        {"model.layers.{N}.self_attn.v_proj.{W}", "blk.{N}.attn_v.{W}"},
        {"model.layers.{N}.self_attn.o_proj.{W}", "blk.{N}.attn_output.{W}"},
        // Qwen3's alone ("qwen3:"): llama and qwen2 files have no such tensors.
        {"model.layers.{N}.self_attn.q_norm.weight", "qwen3:blk.{N}.attn_q_norm.weight"},
        {"model.layers.{N}.self_attn.k_norm.weight", "qwen3:blk.{N}.attn_k_norm.weight"},
        {"model.layers.{N}.mlp.gate_proj.{W}", "blk.{N}.ffn_gate.{W}"},
        {"model.layers.{N}.mlp.up_proj.{W}", "blk.{N}.ffn_up.{W}"},
        {"model.layers.{N}.mlp.down_proj.{W}", "blk.{N}.ffn_down.{W}"},
    };
    return f;
  }();
  return family;
}

}  // namespace quench
