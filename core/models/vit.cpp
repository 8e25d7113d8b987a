// ViTForImageClassification: patch Conv2d + [CLS] + position embeddings, pre-norm encoder layers,
// final LayerNorm, classifier on the [CLS] token.
#include <ATen/ATen.h>

#include <cmath>

#include "core/models/architecture.h"
#include "core/nn/functional.h"
#include "core/util/error.h"

namespace quench {
namespace {

class Vit : public Model {
 public:
  explicit Vit(std::shared_ptr<const Checkpoint> ckpt) : Model("ViTForImageClassification", ckpt, Modality::Image) {
    const Config& c = config();
    hidden_ = c.get_size("hidden_size");
    heads_ = c.get_size("num_attention_heads");
    QUENCH_CHECK(hidden_ % heads_ == 0, c.path(), ": hidden_size ", hidden_, " is not a multiple of num_attention_heads ", heads_);
    head_dim_ = hidden_ / heads_;
    eps_ = c.get_double_in("layer_norm_eps", 1e-12, 0, 1);
    act_ = c.get_string("hidden_act", "gelu");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": hidden_act '", act_, "' is not supported");
    const int64_t patch = c.get_size("patch_size");
    channels_ = c.get_size("num_channels", 3);
    image_ = c.get_size("image_size");
    ConvSpec cs;
    cs.stride = {patch, patch};
    patch_ = add_layer("vit.embeddings.patch_embeddings.projection", LayerKind::Conv2d, false, cs);
    cls_ = add_param("vit.embeddings.cls_token");
    pos_ = add_param("vit.embeddings.position_embeddings");
    const int64_t L = layer_count("num_hidden_layers");
    const int64_t inter = c.get_size("intermediate_size");
    QUENCH_CHECK(image_ % patch == 0, c.path(), ": image_size ", image_, " is not a multiple of patch_size ", patch);
    const int64_t tokens = (image_ / patch) * (image_ / patch) + 1;
    expect_shape(patch_, {hidden_, channels_, patch, patch});
    expect_shape("vit.embeddings.cls_token", cls_, {1, 1, hidden_});
    expect_shape("vit.embeddings.position_embeddings", pos_, {1, tokens, hidden_});
    for (int64_t i = 0; i < L; ++i) {
      const std::string p = "vit.encoder.layer." + std::to_string(i);
      Block b;
      b.prefix = p;
      b.ln1_w = add_param(p + ".layernorm_before.weight");
      b.ln1_b = add_param(p + ".layernorm_before.bias");
      b.ln2_w = add_param(p + ".layernorm_after.weight");
      b.ln2_b = add_param(p + ".layernorm_after.bias");
      const bool qkv_bias = c.get_bool("qkv_bias", true);
      b.q = add_layer(p + ".attention.attention.query", LayerKind::Linear, qkv_bias);
      b.k = add_layer(p + ".attention.attention.key", LayerKind::Linear, qkv_bias);
      b.v = add_layer(p + ".attention.attention.value", LayerKind::Linear, qkv_bias);
      b.o = add_layer(p + ".attention.output.dense", LayerKind::Linear, true);
      b.fc1 = add_layer(p + ".intermediate.dense", LayerKind::Linear, true);
      b.fc2 = add_layer(p + ".output.dense", LayerKind::Linear, true);
      for (auto* l : {b.q, b.k, b.v, b.o}) expect_shape(l, {hidden_, hidden_});
      expect_shape(b.fc1, {inter, hidden_});
      expect_shape(b.fc2, {hidden_, inter});
      for (auto* t : {b.ln1_w, b.ln1_b, b.ln2_w, b.ln2_b}) expect_shape(p + " layer norm", t, {hidden_});
      b.probs_point = p + ".attention.attention:probs";
      add_point(b.probs_point, p + ".attention.attention",
                "attention probabilities after the softmax, [B, heads·T, T] (channels: the keys); what RepQ-ViT quantizes on a log√2 grid");
      blocks_.push_back(std::move(b));
    }
    ln_w_ = add_param("vit.layernorm.weight");
    ln_b_ = add_param("vit.layernorm.bias");
    classifier_ = add_layer("classifier", LayerKind::Linear, true);
    expect_shape(classifier_, {-1, hidden_});
    check_all_tensors_used({"pooler.dense.weight", "pooler.dense.bias"});
  }

  at::Tensor embed(const ModelInputs& in) override {
    QUENCH_CHECK(in.pixel_values.defined(), "ViTForImageClassification needs pixel_values");
    const auto& px = in.pixel_values;
    QUENCH_CHECK(px.dim() == 4 && px.size(1) == channels_ && px.size(2) == image_ && px.size(3) == image_,
                 "ViTForImageClassification: pixel_values must be [B, ", channels_, ", ", image_, ", ", image_, "], got ",
                 px.sizes());
    auto x = patch_->forward(px.to(device(), dtype()));  // [B, C, h, w]
    x = x.flatten(2).transpose(1, 2);                    // [B, N, C]
    auto cls = cls_->expand({x.size(0), 1, hidden_});
    x = at::cat({cls, x}, 1);
    QUENCH_CHECK(x.size(1) == pos_->size(1), "ViTForImageClassification: ", x.size(1), " tokens but ", pos_->size(1),
                 " position embeddings");
    return x + *pos_;
  }
  int64_t num_blocks() const override { return static_cast<int64_t>(blocks_.size()); }
  std::string block_name(int64_t i) const override { return blocks_.at(i).prefix; }

  at::Tensor block(int64_t i, const at::Tensor& h) override {
    const Block& b = blocks_.at(i);
    const int64_t B = h.size(0), T = h.size(1);
    auto x = layer_norm(h, *b.ln1_w, *b.ln1_b, eps_);
    const int64_t H = b.q->out_features() / head_dim_;
    auto q = b.q->forward(x).view({B, T, H, head_dim_}).transpose(1, 2);
    auto k = b.k->forward(x).view({B, T, H, head_dim_}).transpose(1, 2);
    auto v = b.v->forward(x).view({B, T, H, head_dim_}).transpose(1, 2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
    at::Tensor a;
    if (hooks().active()) {
      // The probabilities pass through their point (attention() keeps them inside).
      auto probs = at::softmax(at::matmul(q, k.transpose(-1, -2)).to(at::kFloat) * scale, -1).to(q.scalar_type());
      probs = hooks().tap(b.probs_point, probs.reshape({B, H * T, T})).view({B, H, T, T});
      a = at::matmul(probs, v);
    } else {
      a = attention(q, k, v, scale, false);
    }
    auto h2 = h + b.o->forward(a.transpose(1, 2).reshape({B, T, H * head_dim_}));
    auto y = layer_norm(h2, *b.ln2_w, *b.ln2_b, eps_);
    return h2 + b.fc2->forward(activation(b.fc1->forward(y), act_));
  }

  at::Tensor final_norm(const at::Tensor& h) override { return layer_norm(h, *ln_w_, *ln_b_, eps_); }
  at::Tensor output(const at::Tensor& normed) override { return classifier_->forward(normed.select(1, 0)); }

 protected:
  HiddenStates hidden_states_style() const override { return HiddenStates::EmbeddingsThenBlocks; }

 private:
  struct Block {
    std::string prefix, probs_point;
    at::Tensor *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    Layer *q, *k, *v, *o, *fc1, *fc2;
  };

  int64_t hidden_ = 0, heads_ = 0, head_dim_ = 0, channels_ = 3, image_ = 0;
  double eps_ = 1e-12;
  std::string act_;
  Layer *patch_ = nullptr, *classifier_ = nullptr;
  at::Tensor *cls_ = nullptr, *pos_ = nullptr, *ln_w_ = nullptr, *ln_b_ = nullptr;
  std::vector<Block> blocks_;
};

}  // namespace

const ArchitectureFamily& vit_family() {
  static const ArchitectureFamily family = [] {
    using P = ScaleGroup::Prev;
    ArchitectureFamily f{"ViT",
                         {{"ViTForImageClassification", "vit"}},
                         Modality::Image,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<Vit>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "classifier";
    s.groups = {{P::LayerNorm, "layernorm_before", {"attention.attention.query", "attention.attention.key", "attention.attention.value"}, true},
                {P::LinearRows, "attention.attention.value", {"attention.output.dense"}, false},
                {P::LayerNorm, "layernorm_after", {"intermediate.dense"}, true}};
    s.stages = {{"attention.attention.query", "attention.attention.key", "attention.attention.value"},
                {"attention.output.dense"},
                {"intermediate.dense"},
                {"output.dense"}};
    s.no_clip = {"attention.attention.query", "attention.attention.key"};
    return f;
  }();
  return family;
}

}  // namespace quench
