// Mamba2ForCausalLM: RMSNorm → in_proj → [z | xBC | dt] → depthwise causal conv + SiLU on xBC →
// SSD scan over heads → gated RMSNorm → out_proj. Observable internals: mixer:x
// (scan input), mixer:dt (after softplus and clamping), mixer:B, mixer:C, mixer:y (scan output
// before the gated norm); out_proj:input is the gated, normalized output.
#include <ATen/ATen.h>

#include <limits>

#include "core/models/architecture.h"
#include "core/models/mamba_backbone.h"
#include "core/nn/functional.h"
#include "core/nn/scan.h"
#include "core/util/error.h"

namespace quench {
namespace {

class Mamba2 : public MambaBackbone {
 public:
  explicit Mamba2(std::shared_ptr<const Checkpoint> ckpt) : MambaBackbone("Mamba2ForCausalLM", std::move(ckpt)) {
    const Config& c = config();
    act_ = c.get_string("hidden_act", "silu");
    QUENCH_CHECK(is_known_activation(act_), c.path(), ": hidden_act '", act_, "' is not supported");
    const int64_t hidden = hidden_;
    d_inner_ = static_cast<int64_t>(c.get_double_in("expand", 2, 0, 1e6) * hidden);
    heads_ = c.get_size("num_heads");
    head_dim_ = c.get_size("head_dim");
    groups_ = c.get_size("n_groups", 1);
    state_ = c.get_size("state_size");
    QUENCH_CHECK(heads_ * head_dim_ == d_inner_, c.path(), ": num_heads·head_dim = ", heads_ * head_dim_,
                 " but expand·hidden_size = ", d_inner_);
    QUENCH_CHECK(heads_ % groups_ == 0, c.path(), ": num_heads ", heads_, " is not a multiple of n_groups ", groups_);
    if (c.has("time_step_limit")) {
      const auto& lim = c.json()["time_step_limit"];
      QUENCH_CHECK(lim.is_array() && lim.size() == 2, c.path(), ": time_step_limit must be [min, max]");
      auto lo = json_to_double(lim[0]), hi = json_to_double(lim[1]);
      QUENCH_CHECK(lo && hi, c.path(), ": time_step_limit entries must be numbers");
      dt_min_ = *lo;
      dt_max_ = *hi;
    }
    const int64_t kernel = kernel_ = c.get_size("conv_kernel", 4);
    const int64_t L = layer_count("num_hidden_layers");
    for (int64_t i = 0; i < L; ++i) {
      const std::string m = add_block(i);
      Block b;
      b.in_proj = add_layer(m + ".in_proj", LayerKind::Linear, false);
      expect_shape(b.in_proj, {-1, hidden});
      const int64_t conv_dim = d_inner_ + 2 * groups_ * state_;
      ConvSpec cs;
      cs.padding = {kernel - 1};
      cs.groups = conv_dim;
      b.conv = add_layer(m + ".conv1d", LayerKind::Conv1d, false, cs);
      expect_shape(b.conv, {conv_dim, 1, kernel});
      b.out_proj = add_layer(m + ".out_proj", LayerKind::Linear, false);
      expect_shape(b.out_proj, {hidden, d_inner_});
      b.A_log = add_param(m + ".A_log");
      b.D = add_param(m + ".D");
      b.dt_bias = add_param(m + ".dt_bias");
      b.gnorm = add_param(m + ".norm.weight");
      for (const char* n : {".A_log", ".D", ".dt_bias"}) expect_shape(m + n, &param(m + n), {heads_});
      expect_shape(m + ".norm.weight", b.gnorm, {d_inner_});
      const int64_t rest = b.in_proj->out_features() - 2 * d_inner_ - 2 * groups_ * state_ - heads_;
      QUENCH_CHECK(rest >= 0 && rest % 2 == 0, c.path(), ": ", m, ".in_proj has ", b.in_proj->out_features(),
                   " outputs, which does not split into z, xBC and dt");
      b.d_mlp = rest / 2;
      for (const char* what : {"x", "dt", "B", "C", "y"}) b.points.push_back(m + ":" + what);
      add_point(b.points[0], m, "scan input x (conv + SiLU output), [B, T, d_inner]");
      add_point(b.points[1], m, "Δ after softplus(dt + dt_bias) and clamping, [B, T, heads]");
      add_point(b.points[2], m, "B (input matrix of the scan), [B, T, n_groups·state]");
      add_point(b.points[3], m, "C (output matrix of the scan), [B, T, n_groups·state]");
      add_point(b.points[4], m, "scan output y before the gated RMSNorm, [B, T, d_inner]");
      blocks_.push_back(std::move(b));
    }
    finish();
  }

 private:
  struct Block {
    std::vector<std::string> points;      // x, dt, B, C, y
    at::Tensor *A_log, *D, *dt_bias, *gnorm;  // [heads] ×3, [d_inner]
    Layer *in_proj, *conv, *out_proj;
    int64_t d_mlp = 0;
  };

  at::Tensor mixer(int64_t i, const at::Tensor& x, std::vector<at::Tensor>* state) override {
    const Block& b = blocks_.at(i);
    const int64_t Bn = x.size(0), T = x.size(1), gs = groups_ * state_;
    auto proj = b.in_proj->forward(x);
    auto parts = proj.split({b.d_mlp, b.d_mlp, d_inner_, d_inner_ + 2 * gs, heads_}, -1);
    auto xbc = causal_conv(*b.conv, parts[3].transpose(1, 2), kernel_, state);
    xbc = activation(xbc, act_).transpose(1, 2);  // [B, T, conv_dim]
    auto pieces = xbc.split({d_inner_, gs, gs}, -1);
    auto xs = hooks().tap(b.points[0], pieces[0]);
    auto Bm = hooks().tap(b.points[2], pieces[1]);
    auto Cm = hooks().tap(b.points[3], pieces[2]);
    auto dt = at::softplus(parts[4].to(at::kFloat) + b.dt_bias->to(at::kFloat));
    if (dt_min_ > 0.0 || dt_max_ < std::numeric_limits<double>::infinity()) dt = at::clamp(dt, dt_min_, dt_max_);
    dt = hooks().tap(b.points[1], dt);
    auto A = -at::exp(b.A_log->to(at::kFloat));
    const auto xh = xs.reshape({Bn, T, heads_, head_dim_}), Bg = Bm.reshape({Bn, T, groups_, state_}), Cg = Cm.reshape({Bn, T, groups_, state_});
    auto y = state ? ssd_scan_continue(xh, dt, A, Bg, Cg, *b.D, state->at(1)) : ssd_scan(xh, dt, A, Bg, Cg, *b.D);
    y = hooks().tap(b.points[4], y.reshape({Bn, T, d_inner_}).to(x.scalar_type()));
    // transformers normalizes over all of d_inner even when n_groups > 1 (mamba_ssm's RMSNormGated
    // normalizes per group); parity with transformers is the contract, checked by mamba2-tiny.
    auto g = gated_rms_norm(y, parts[2], *b.gnorm, eps_, d_inner_);
    return b.out_proj->forward(g);
  }

  double dt_min_ = 0.0, dt_max_ = std::numeric_limits<double>::infinity();
  std::string act_;
  int64_t d_inner_ = 0, heads_ = 0, head_dim_ = 0, groups_ = 1, state_ = 0, kernel_ = 4;
  std::vector<Block> blocks_;
};

}  // namespace

const ArchitectureFamily& mamba2_family() {
  static const ArchitectureFamily family = [] {
    using P = ScaleGroup::Prev;
    ArchitectureFamily f{"Mamba-2",
                         {{"Mamba2ForCausalLM", "mamba2", "mamba2"}},
                         Modality::Text,
                         [](std::shared_ptr<const Checkpoint> ckpt) -> std::unique_ptr<Model> { return std::make_unique<Mamba2>(std::move(ckpt)); },
                         {}};
    Structure& s = f.structure;
    s.head = "lm_head";
    // the gated RMSNorm's weight multiplies out_proj's input channel by channel: foldable
    s.groups = {{P::RmsNorm, "norm", {"mixer.in_proj"}, true}, {P::RmsNorm, "mixer.norm", {"mixer.out_proj"}, true}};
    s.stages = {{"mixer.in_proj"}, {"mixer.conv1d"}, {"mixer.out_proj"}};
    // Quamba (W8A8): the conv's input and the scan's x (percentile range: outliers), B and C
    // quantized; out_proj's input Hadamard-rotated.
    const auto [w8, a8, a8x] = quamba_settings();
    s.quamba = {{"default", {{"weights", w8}, {"activations", a8}}},
                {"overrides", nlohmann::json::array({
                                  {{"match", "*.mixer.conv1d"}, {"weights", w8}, {"activations", a8}},
                                  {{"match", "*.mixer.out_proj"}, {"rotation", "hadamard"}},
                              })},
                {"points", nlohmann::json::array({
                               {{"match", "*.mixer:x"}, {"activations", a8x}},
                               {{"match", "*.mixer:B"}, {"activations", a8}},
                               {{"match", "*.mixer:C"}, {"activations", a8}},
                           })}};
    // Its heads share B and C within a group: Quamba2 sorts and clusters them.
    s.ssd_head_reorder = true;
    s.gguf_tensors = backbone_gguf_tensors();
    s.gguf_tensors.insert(s.gguf_tensors.end(), {
        {"backbone.layers.{N}.mixer.dt_bias", "blk.{N}.ssm_dt.bias"},
        {"backbone.layers.{N}.mixer.A_log", "blk.{N}.ssm_a"},
        {"backbone.layers.{N}.mixer.D", "blk.{N}.ssm_d"},
        {"backbone.layers.{N}.mixer.norm.weight", "blk.{N}.ssm_norm.weight"},
        {"backbone.layers.{N}.mixer.out_proj.weight", "blk.{N}.ssm_out.weight"},
    });
    return f;
  }();
  return family;
}

}  // namespace quench
