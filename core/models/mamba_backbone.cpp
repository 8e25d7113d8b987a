#include "core/models/mamba_backbone.h"

#include "core/nn/functional.h"
#include "core/util/error.h"

namespace quench {

MambaBackbone::MambaBackbone(const std::string& architecture, std::shared_ptr<const Checkpoint> ckpt)
    : Model(architecture, std::move(ckpt), Modality::Text) {
  const Config& c = config();
  eps_ = c.get_double_in("layer_norm_epsilon", 1e-5, 0, 1);
  residual_fp32_ = c.get_bool("residual_in_fp32", true);
  hidden_ = c.get_size("hidden_size");
  embed_ = add_layer("backbone.embeddings", LayerKind::Embedding, false);
  expect_shape(embed_, {c.get_size("vocab_size"), hidden_});
}

std::string MambaBackbone::add_block(int64_t i) {
  const std::string p = "backbone.layers." + std::to_string(i);
  prefixes_.push_back(p);
  norms_.push_back(add_param(p + ".norm.weight"));
  expect_shape(p + ".norm.weight", norms_.back(), {hidden_});
  return p + ".mixer";
}

void MambaBackbone::finish() {
  norm_f_ = add_param("backbone.norm_f.weight");
  expect_shape("backbone.norm_f.weight", norm_f_, {hidden_});
  if (config().get_bool("tie_word_embeddings", true) || !has_tensor("lm_head.weight")) {
    head_ = add_layer_with("lm_head", LayerKind::Linear, embed_->weight(), at::Tensor());
    if (has_tensor("lm_head.weight")) mark_used("lm_head.weight");
  } else {
    head_ = add_layer("lm_head", LayerKind::Linear, false);
  }
  check_all_tensors_used();
}

at::Tensor MambaBackbone::embed(const ModelInputs& in) {
  QUENCH_CHECK(in.input_ids.defined(), architecture(), " needs input_ids");
  return embed_->forward(in.input_ids.to(device()));
}

at::Tensor MambaBackbone::block(int64_t i, const at::Tensor& h) {
  auto x = rms_norm(h.to(dtype()), *norms_.at(i), eps_);
  auto residual = residual_fp32_ ? h.to(at::kFloat) : h;
  return residual + mixer(i, x, nullptr);
}

at::Tensor MambaBackbone::block_step(int64_t i, const at::Tensor& h, DecodeCache& cache) {
  auto& state = cache.blocks.at(i);
  if (state.empty()) state.resize(2);
  auto x = rms_norm(h.to(dtype()), *norms_.at(i), eps_);
  auto residual = residual_fp32_ ? h.to(at::kFloat) : h;
  return residual + mixer(i, x, &state);
}

at::Tensor MambaBackbone::causal_conv(Layer& conv, const at::Tensor& x, int64_t k, std::vector<at::Tensor>* state) {
  const int64_t T = x.size(2);
  if (!state) return conv.forward(x).narrow(2, 0, T);
  at::Tensor& window = state->at(0);
  const at::Tensor prev = window.defined() ? window : at::zeros({x.size(0), x.size(1), k - 1}, x.options());
  const at::Tensor full = at::cat({prev, x}, 2);  // output j of the padded conv reads full[j − k + 1 … j]
  window = full.narrow(2, full.size(2) - (k - 1), k - 1).contiguous();
  return conv.forward(full).narrow(2, k - 1, T);
}

at::Tensor MambaBackbone::final_norm(const at::Tensor& h) { return rms_norm(h.to(dtype()), *norm_f_, eps_); }

at::Tensor MambaBackbone::output(const at::Tensor& normed) { return head_->forward(normed); }

QuambaSettings quamba_settings() {
  QuambaSettings q;
  q.w8 = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"method", "rtn"}};
  q.a8 = {{"bits", 8}, {"symmetric", true}, {"strategy", "tensor"}, {"dynamic", false}, {"observer", "minmax"}};
  q.a8x = q.a8;
  q.a8x["observer"] = "percentile";
  q.a8x["percentile"] = 99.999;
  return q;
}

std::vector<std::pair<std::string, std::string>> backbone_gguf_tensors() {
  return {
      {"backbone.embeddings.weight", "token_embd.weight"},
      {"backbone.norm_f.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"backbone.layers.{N}.norm.weight", "blk.{N}.attn_norm.weight"},
      {"backbone.layers.{N}.mixer.in_proj.weight", "blk.{N}.ssm_in.weight"},
      {"backbone.layers.{N}.mixer.conv1d.{W}", "blk.{N}.ssm_conv1d.{W}"},
  };
}

}  // namespace quench
