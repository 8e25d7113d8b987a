// ResNetForImageClassification (basic and bottleneck layers): 7×7 stem + max-pool, stages of
// residual layers (conv + inference BatchNorm), global average pool, classifier.1. Each
// residual layer is one block; hidden_states has one entry per stage, as in transformers.
#include <ATen/ATen.h>

#include "core/models/architecture.h"
#include "core/nn/functional.h"
#include "core/util/error.h"

namespace quench {
namespace {

class ResNet : public Model {
 public:
  explicit ResNet(std::shared_ptr<const Checkpoint> ckpt) : Model("ResNetForImageClassification", ckpt, Modality::Image) {
    const Config& c = config();
    act_ = c.get_string("hidden_act", "relu");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": hidden_act '", act_, "' is not supported");
    channels_ = c.get_size("num_channels", 3);
    const auto sizes = c.get_int_list("hidden_sizes");
    const auto depths = c.get_int_list("depths");
    QUENCH_CHECK(sizes.size() == depths.size() && !sizes.empty(), c.path(), ": hidden_sizes and depths must have the same length");
    const auto tensors = static_cast<int64_t>(checkpoint().names().size());
    for (size_t s = 0; s < sizes.size(); ++s) {
      QUENCH_CHECK(sizes[s] >= 1 && sizes[s] <= c.size_bound(), c.path(), ": key 'hidden_sizes' entry ", s, " is ", sizes[s],
                   "; it must be a positive integer no larger than ", c.size_bound());
      QUENCH_CHECK(depths[s] >= 1 && depths[s] <= tensors, c.path(), ": key 'depths' entry ", s, " is ", depths[s],
                   "; it must be between 1 and ", tensors, " (the checkpoint's tensor count)");
    }
    const std::string type = c.get_string("layer_type", "bottleneck");
    QUENCH_CHECK(type == "basic" || type == "bottleneck", c.path(), ": layer_type '", type, "' is not supported (basic, bottleneck)");
    const bool bottleneck = type == "bottleneck";
    const bool down_first = c.get_bool("downsample_in_first_stage", false);
    const bool down_in_bottleneck = c.get_bool("downsample_in_bottleneck", false);

    int64_t in = c.get_size("embedding_size");
    stem_ = conv_bn("resnet.embedder.embedder", 2, true);
    expect_conv(stem_, in, channels_);
    for (size_t s = 0; s < sizes.size(); ++s) {
      const int64_t out = sizes[s];
      for (int64_t l = 0; l < depths[s]; ++l) {
        const int64_t stride = l > 0 ? 1 : (s == 0 && !down_first ? 1 : 2);
        const std::string p = "resnet.encoder.stages." + std::to_string(s) + ".layers." + std::to_string(l);
        Block b;
        b.prefix = p;
        b.last_in_stage = l + 1 == depths[s];
        if (in != out || stride != 1) {
          b.shortcut = conv_bn(p + ".shortcut", stride, false);
          expect_conv(b.shortcut, out, in);
        }
        if (bottleneck) {
          const int64_t mid = out / 4;  // transformers' reduction = 4
          b.convs.push_back(conv_bn(p + ".layer.0", down_in_bottleneck ? stride : 1, true));
          b.convs.push_back(conv_bn(p + ".layer.1", down_in_bottleneck ? 1 : stride, true));
          b.convs.push_back(conv_bn(p + ".layer.2", 1, false));
          expect_conv(b.convs[0], mid, in);
          expect_conv(b.convs[1], mid, mid);
          expect_conv(b.convs[2], out, mid);
        } else {
          b.convs.push_back(conv_bn(p + ".layer.0", stride, true));
          b.convs.push_back(conv_bn(p + ".layer.1", 1, false));
          expect_conv(b.convs[0], out, in);
          expect_conv(b.convs[1], out, out);
        }
        blocks_.push_back(std::move(b));
        in = out;
      }
    }
    classifier_ = add_layer("classifier.1", LayerKind::Linear, true);
    expect_shape(classifier_, {-1, in});
    check_all_tensors_used({"num_batches_tracked"});
  }

  at::Tensor embed(const ModelInputs& in) override {
    QUENCH_CHECK(in.pixel_values.defined(), "ResNetForImageClassification needs pixel_values");
    QUENCH_CHECK(in.pixel_values.dim() == 4 && in.pixel_values.size(1) == channels_, "ResNetForImageClassification: pixel_values must be [B, ",
                 channels_, ", H, W], got ", in.pixel_values.sizes());
    auto x = run(stem_, in.pixel_values.to(device(), dtype()));
    return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  }
  int64_t num_blocks() const override { return static_cast<int64_t>(blocks_.size()); }
  std::string block_name(int64_t i) const override { return blocks_.at(i).prefix; }

  at::Tensor block(int64_t i, const at::Tensor& h) override {
    const Block& b = blocks_.at(i);
    auto residual = b.shortcut.conv ? run(b.shortcut, h) : h;
    auto x = h;
    for (const auto& cb : b.convs) x = run(cb, x);
    return activation(x + residual, act_);
  }

  at::Tensor output(const at::Tensor& h) override { return classifier_->forward(h.mean({2, 3})); }

 protected:
  HiddenStates hidden_states_style() const override { return HiddenStates::EmbeddingsThenBlocks; }
  bool records_hidden_state(int64_t i) const override { return blocks_.at(i).last_in_stage; }

 private:
  struct ConvBn {
    Layer* conv = nullptr;
    at::Tensor *w = nullptr, *b = nullptr, *mean = nullptr, *var = nullptr;  // BatchNorm [C]
    bool act = false;
  };
  struct Block {
    std::string prefix;
    std::vector<ConvBn> convs;
    ConvBn shortcut;
    bool last_in_stage = false;
  };

  ConvBn conv_bn(const std::string& p, int64_t stride, bool act) {
    ConvBn cb;
    const auto& info = checkpoint().info(p + ".convolution.weight");
    QUENCH_CHECK(info.shape.size() == 4, checkpoint().dir(), ": ", p, ".convolution.weight must be 4-d");
    const int64_t k = info.shape[2];
    ConvSpec cs;
    cs.stride = {stride, stride};
    cs.padding = {k / 2, k / 2};
    cb.conv = add_layer(p + ".convolution", LayerKind::Conv2d, false, cs);
    cb.w = add_param(p + ".normalization.weight");
    cb.b = add_param(p + ".normalization.bias");
    cb.mean = add_param(p + ".normalization.running_mean", true);
    cb.var = add_param(p + ".normalization.running_var", true);
    cb.act = act;
    return cb;
  }

  void expect_conv(const ConvBn& cb, int64_t out, int64_t in) const {
    expect_shape(cb.conv, {out, in, -1, -1});
    const std::string bn = cb.conv->name().substr(0, cb.conv->name().rfind('.')) + ".normalization";
    for (auto* t : {cb.w, cb.b, cb.mean, cb.var}) expect_shape(bn, t, {out});
  }

  at::Tensor run(const ConvBn& cb, const at::Tensor& x) const {
    auto y = cb.conv->forward(x);
    y = at::batch_norm(y, *cb.w, *cb.b, *cb.mean, *cb.var, false, 0.0, 1e-5, false);
    return cb.act ? activation(y, act_) : y;
  }

  std::string act_;
  int64_t channels_ = 3;
  ConvBn stem_;
  Layer* classifier_ = nullptr;
  std::vector<Block> blocks_;
};

}  // namespace

const ArchitectureFamily& resnet_family() {
  static const ArchitectureFamily family = [] {
    ArchitectureFamily f{"ResNet",
                         {{"ResNetForImageClassification", "resnet"}},
                         Modality::Image,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<ResNet>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "classifier.1";
    return f;
  }();
  return family;
}

}  // namespace quench
