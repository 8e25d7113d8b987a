// MambaForCausalLM (Mamba-1): RMSNorm → in_proj → depthwise causal conv + SiLU → x_proj → dt_proj
// → selective scan → gate by SiLU(z) → out_proj, with a float32 residual stream when asked.
// Observable internals (what Quamba quantizes): mixer:x (scan input u, also x_proj's input),
// mixer:dt (Δ after softplus), mixer:B, mixer:C, mixer:y (scan output); out_proj:input is
// the gated output.
#include <ATen/ATen.h>

#include "core/models/architecture.h"
#include "core/models/mamba_backbone.h"
#include "core/nn/functional.h"
#include "core/nn/scan.h"
#include "core/util/error.h"

namespace quench {
namespace {

class Mamba : public MambaBackbone {
 public:
  explicit Mamba(std::shared_ptr<const Checkpoint> ckpt) : MambaBackbone("MambaForCausalLM", std::move(ckpt)) {
    const Config& c = config();
    act_ = c.get_string("hidden_act", "silu");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": hidden_act '", act_, "' is not supported");
    kernel_ = c.get_size("conv_kernel", 4);
    const int64_t L = layer_count("num_hidden_layers");
    const int64_t hidden = hidden_;
    const int64_t d_inner = c.get_size("intermediate_size", static_cast<int64_t>(c.get_double_in("expand", 2, 0, 1e6) * hidden));
    const int64_t state = c.get_size("state_size");
    // time_step_rank is an integer or "auto" (= ceil(hidden_size / 16)).
    const int64_t dt_rank = c.has("time_step_rank") && c.json()["time_step_rank"].is_number_integer()
                                ? c.get_size("time_step_rank")
                                : (hidden + 15) / 16;
    for (int64_t i = 0; i < L; ++i) {
      const std::string m = add_block(i);
      Block b;
      b.in_proj = add_layer(m + ".in_proj", LayerKind::Linear, false);
      ConvSpec cs;
      cs.padding = {kernel_ - 1};
      cs.groups = d_inner;
      b.conv = add_layer(m + ".conv1d", LayerKind::Conv1d, false, cs);
      b.x_proj = add_layer(m + ".x_proj", LayerKind::Linear, false);
      b.dt_proj = add_layer(m + ".dt_proj", LayerKind::Linear, false);
      b.out_proj = add_layer(m + ".out_proj", LayerKind::Linear, false);
      b.A_log = add_param(m + ".A_log");
      b.D = add_param(m + ".D");
      b.dt_rank = dt_rank;
      b.state = state;
      expect_shape(b.in_proj, {2 * d_inner, hidden});
      expect_shape(b.conv, {d_inner, 1, kernel_});
      expect_shape(b.x_proj, {dt_rank + 2 * state, d_inner});
      expect_shape(b.dt_proj, {d_inner, dt_rank});
      expect_shape(b.out_proj, {hidden, d_inner});
      expect_shape(m + ".A_log", b.A_log, {d_inner, state});
      expect_shape(m + ".D", b.D, {d_inner});
      for (const char* what : {"x", "dt", "B", "C", "y"}) b.points.push_back(m + ":" + what);
      add_point(b.points[0], m, "scan input x (conv + SiLU output, also x_proj's input), [B, T, d_inner]");
      add_point(b.points[1], m, "Δ after dt_proj and softplus, [B, T, d_inner]");
      add_point(b.points[2], m, "B (input matrix of the scan), [B, T, state]");
      add_point(b.points[3], m, "C (output matrix of the scan), [B, T, state]");
      add_point(b.points[4], m, "scan output y before the SiLU(z) gate, [B, T, d_inner]");
      blocks_.push_back(std::move(b));
    }
    finish();
  }

 private:
  struct Block {
    std::vector<std::string> points;  // x, dt, B, C, y
    at::Tensor *A_log, *D;             // [d_inner, state], [d_inner]
    Layer *in_proj, *conv, *x_proj, *dt_proj, *out_proj;
    int64_t dt_rank = 0, state = 0;
  };

  at::Tensor mixer(int64_t i, const at::Tensor& x, std::vector<at::Tensor>* state) override {
    const Block& b = blocks_.at(i);
    auto proj = b.in_proj->forward(x);  // [B, T, 2·d_inner]
    auto parts = proj.chunk(2, -1);
    auto xs = causal_conv(*b.conv, parts[0].transpose(1, 2), kernel_, state);  // [B, d_inner, T]
    auto u = hooks().tap(b.points[0], activation(xs, act_).transpose(1, 2));  // [B, T, d_inner]
    auto ssm = b.x_proj->forward(u);
    auto pieces = ssm.split({b.dt_rank, b.state, b.state}, -1);
    auto dt = hooks().tap(b.points[1], at::softplus(b.dt_proj->forward(pieces[0])));
    auto Bm = hooks().tap(b.points[2], pieces[1]);
    auto Cm = hooks().tap(b.points[3], pieces[2]);
    auto A = -at::exp(b.A_log->to(at::kFloat));
    auto scan = state ? selective_scan_continue(u, dt, A, Bm, Cm, *b.D, state->at(1)) : selective_scan(u, dt, A, Bm, Cm, *b.D);
    auto y = hooks().tap(b.points[4], scan.to(x.scalar_type()));
    return b.out_proj->forward(y * activation(parts[1], act_));
  }

  std::string act_;
  int64_t kernel_ = 4;
  std::vector<Block> blocks_;
};

}  // namespace

const ArchitectureFamily& mamba_family() {
  static const ArchitectureFamily family = [] {
    using P = ScaleGroup::Prev;
    ArchitectureFamily f{"Mamba",
                         {{"MambaForCausalLM", "mamba", "mamba"}},
                         Modality::Text,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<Mamba>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "lm_head";
    s.groups = {{P::RmsNorm, "norm", {"mixer.in_proj"}, true}};
    s.stages = {{"mixer.in_proj"}, {"mixer.conv1d"}, {"mixer.x_proj"}, {"mixer.dt_proj"}, {"mixer.out_proj"}};
    // Quamba (W8A8): in_proj's output (x and z) shares one scale and the conv reads quantized x;
    // x_proj reads x, quantized once at mixer:x (a percentile range: the scan input has outliers);
    // x_proj's output (Δ-low-rank, B, C) and dt_proj's share a scale each; out_proj's input is
    // Hadamard-rotated.
    const auto [w8, a8, a8x] = quamba_settings();
    s.quamba = {{"default", {{"weights", w8}, {"activations", a8}}},
                {"overrides", nlohmann::json::array({
                                  {{"match", "*.mixer.in_proj"}, {"output_activations", a8}},
                                  {{"match", "*.mixer.conv1d"}, {"weights", w8}, {"activations", nullptr}},
                                  {{"match", "*.mixer.x_proj"}, {"activations", nullptr}, {"output_activations", a8}},
                                  {{"match", "*.mixer.dt_proj"}, {"activations", nullptr}, {"output_activations", a8}},
                                  {{"match", "*.mixer.out_proj"}, {"rotation", "hadamard"}},
                              })},
                {"points", nlohmann::json::array({{{"match", "*.mixer:x"}, {"activations", a8x}}})}};
    // A and D carry no ".weight" suffix in llama.cpp; dt_proj's bias is ssm_dt.bias (Mamba-2's
    // dt_bias maps there too: the tables differ).
    s.gguf_tensors = backbone_gguf_tensors();
    s.gguf_tensors.insert(s.gguf_tensors.end(), {
        {"backbone.layers.{N}.mixer.x_proj.weight", "blk.{N}.ssm_x.weight"},
        {"backbone.layers.{N}.mixer.dt_proj.{W}", "blk.{N}.ssm_dt.{W}"},
        {"backbone.layers.{N}.mixer.A_log", "blk.{N}.ssm_a"},
        {"backbone.layers.{N}.mixer.D", "blk.{N}.ssm_d"},
        {"backbone.layers.{N}.mixer.out_proj.weight", "blk.{N}.ssm_out.weight"},
    });
    return f;
  }();
  return family;
}

}  // namespace quench
