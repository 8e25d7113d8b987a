#include "core/nn/functional.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <torch/version.h>

#include "core/util/error.h"

namespace quench {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto xf = x.to(at::kFloat);
  auto var = xf.pow(2).mean(-1, true);
  auto y = (xf * at::rsqrt(var + eps)).to(x.scalar_type());
  return weight * y;
}

at::Tensor gated_rms_norm(const at::Tensor& x, const at::Tensor& gate, const at::Tensor& weight, double eps,
                          int64_t group_size) {
  auto xf = x.to(at::kFloat);
  if (gate.defined()) xf = xf * at::silu(gate.to(at::kFloat));
  auto shape = xf.sizes().vec();
  const int64_t C = shape.back();
  QUENCH_CHECK(group_size > 0 && C % group_size == 0, "gated RMSNorm: ", C, " channels are not a multiple of group size ",
               group_size);
  auto g = xf.reshape({-1, C / group_size, group_size});
  auto var = g.pow(2).mean(-1, true);
  g = g * at::rsqrt(var + eps);
  return weight * g.reshape(shape).to(x.scalar_type());
}

at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps) {
  return at::layer_norm(x, {x.size(-1)}, weight, bias, eps);
}

bool is_known_activation(const std::string& n) {
  return n == "silu" || n == "swish" || n == "gelu" || n == "gelu_new" || n == "gelu_pytorch_tanh" ||
         n == "gelu_fast" || n == "relu" || n == "tanh" || n == "sigmoid" || n == "quick_gelu";
}

at::Tensor activation(const at::Tensor& x, const std::string& n) {
  if (n == "silu" || n == "swish") return at::silu(x);
  if (n == "gelu") return at::gelu(x);
  if (n == "gelu_new" || n == "gelu_pytorch_tanh" || n == "gelu_fast") return at::gelu(x, "tanh");
  if (n == "relu") return at::relu(x);
  if (n == "tanh") return at::tanh(x);
  if (n == "sigmoid") return at::sigmoid(x);
  if (n == "quick_gelu") return x * at::sigmoid(1.702 * x);
  fail("unsupported activation '", n, "'");
}

Rope make_rope(const Config& cfg, int64_t head_dim) {
  double theta = 10000.0;
  std::string type = "default";
  double factor = 1.0, low_freq = 1.0, high_freq = 4.0;
  int64_t original_max = 8192;
  double partial = cfg.get_double_in("partial_rotary_factor", 1.0, 0, 1.0 + 1e-9);
  auto read_params = [&](const Config& p) {
    theta = p.get_double_in("rope_theta", theta, 0, std::numeric_limits<double>::infinity());
    type = p.get_string("rope_type", p.get_string("type", type));
    factor = p.get_double_in("factor", factor, 0, std::numeric_limits<double>::infinity());
    low_freq = p.get_double_in("low_freq_factor", low_freq, 0, std::numeric_limits<double>::infinity());
    high_freq = p.get_double_in("high_freq_factor", high_freq, 0, std::numeric_limits<double>::infinity());
    original_max = p.get_int_in("original_max_position_embeddings", original_max, 1, std::numeric_limits<int32_t>::max());
    partial = p.get_double_in("partial_rotary_factor", partial, 0, 1.0 + 1e-9);
  };
  theta = cfg.get_double_in("rope_theta", theta, 0, std::numeric_limits<double>::infinity());
  if (cfg.has("rope_parameters")) read_params(cfg.sub("rope_parameters"));
  if (cfg.has("rope_scaling")) read_params(cfg.sub("rope_scaling"));

  Rope r;
  r.rotary_dim = static_cast<int64_t>(head_dim * partial);
  r.rotary_dim -= r.rotary_dim % 2;
  auto idx = at::arange(0, r.rotary_dim, 2, at::kDouble) / static_cast<double>(r.rotary_dim);
  auto inv = 1.0 / at::pow(theta, idx);
  if (type == "default") {
  } else if (type == "linear") {
    inv = inv / factor;
  } else if (type == "llama3") {
    QUENCH_CHECK(high_freq > low_freq, cfg.path(), ": rope high_freq_factor ", high_freq, " must be greater than low_freq_factor ",
                 low_freq, " (llama3 rope scaling divides by their difference)");
    // Llama 3.1: long wavelengths slowed by factor, short kept, smooth in between.
    const double low_wl = original_max / low_freq, high_wl = original_max / high_freq;
    auto wl = 2 * M_PI / inv;
    auto scaled = at::where(wl > low_wl, inv / factor, inv);
    auto smooth = (original_max / wl - low_freq) / (high_freq - low_freq);
    auto smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    auto medium = (wl >= high_wl) & (wl <= low_wl);
    inv = at::where(medium, smoothed, scaled);
  } else {
    fail(cfg.path(), ": rope type '", type, "' is not supported (supported: default, linear, llama3)");
  }
  r.inv_freq = inv.to(at::kFloat);
  return r;
}

std::pair<at::Tensor, at::Tensor> rope_tables(const Rope& r, int64_t T, at::Device device, at::ScalarType dtype) {
  auto pos = at::arange(T, at::TensorOptions().dtype(at::kFloat).device(device));
  auto freqs = at::outer(pos, r.inv_freq.to(device));
  auto emb = at::cat({freqs, freqs}, -1);
  return {(emb.cos() * r.attention_scaling).to(dtype), (emb.sin() * r.attention_scaling).to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t rd = cos.size(-1);
  auto rot = x.narrow(-1, 0, rd);
  auto half1 = rot.narrow(-1, 0, rd / 2);
  auto half2 = rot.narrow(-1, rd / 2, rd / 2);
  auto rotated = at::cat({-half2, half1}, -1);
  auto out = rot * cos + rotated * sin;
  if (rd == x.size(-1)) return out;
  return at::cat({out, x.narrow(-1, rd, x.size(-1) - rd)}, -1);
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, bool causal,
                     int64_t window) {
  const int64_t H = q.size(1), Hkv = k.size(1), T = q.size(2), S = k.size(2);
  QUENCH_CHECK(Hkv > 0 && H % Hkv == 0, "attention: ", H, " query heads are not a multiple of ", Hkv, " key/value heads");
  at::Tensor kk = k, vv = v;
  if (Hkv != H) {
    kk = k.repeat_interleave(H / Hkv, 1);
    vv = v.repeat_interleave(H / Hkv, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  // On a GPU in half precision the fused kernels (flash / memory-efficient attention) compute the
  // same softmax in float32 without writing the scores out: 8 × 2048 tokens with 32 heads made 4 GiB
  // of them per layer, and writing and reading them cost as much as the block's matmuls. Their causal
  // mask is aligned to the first key, so only whole-context queries (T == S) without a window go there.
  const at::ScalarType dt = q.scalar_type();
  if (q.is_cuda() && (dt == at::kBFloat16 || dt == at::kHalf) && window == 0 && (!causal || T == S))
    return at::scaled_dot_product_attention(q, kk, vv, {}, 0.0, causal, scale);
#endif
  // Queries [t0, t0 + n): rows of the score matrix are independent, so slicing them changes nothing.
  auto rows = [&](int64_t t0, int64_t n) {
    const at::Tensor qs = n == T ? q : q.narrow(2, t0, n);
    auto scores = at::matmul(qs, kk.transpose(-1, -2)).to(at::kFloat) * scale;
    if (causal || window > 0) {
      auto opts = at::TensorOptions().dtype(at::kLong).device(q.device());
      auto i = at::arange(S - T + t0, S - T + t0 + n, opts).unsqueeze(1);
      auto j = at::arange(S, opts).unsqueeze(0);
      auto masked = causal ? (j > i) : at::zeros({n, S}, opts.dtype(at::kBool));
      if (window > 0) masked = masked | (j <= i - window);
      scores = scores.masked_fill(masked, -std::numeric_limits<float>::infinity());
    }
    auto probs = at::softmax(scores, -1).to(q.scalar_type());
    return at::matmul(probs, vv);
  };
  // The float32 scores of a long context are B·H·T·S·4 bytes (8 × 2048 tokens with 32 heads: 4 GiB,
  // three times over with the mask and softmax); above 256 MiB they are computed a slice of queries at a time.
  const int64_t per_row = q.size(0) * H * S * 4;
  const int64_t chunk = std::max<int64_t>(1, (int64_t(256) << 20) / std::max<int64_t>(per_row, 1));
  if (chunk >= T) return rows(0, T);
  std::vector<at::Tensor> parts;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) parts.push_back(rows(t0, std::min(chunk, T - t0)));
  return at::cat(parts, 2);
}

}  // namespace quench
