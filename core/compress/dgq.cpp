#include "core/compress/dgq.h"

#include <limits>

#include "core/compress/weight_method.h"
#include "core/nn/layer.h"
#include "core/ops/fake_quant.h"
#include "core/util/error.h"

namespace quench {

namespace {

struct TwoLevel {
  at::Tensor dq;  // F32 [out, in]
  at::Tensor q;   // F32 integers [out, groups, G]
  at::Tensor sh;  // F32 integers [out, groups]
};

// The weight on DGQ's second grid: group scales rounded to integer multiples of the row's s8, and
// the fine integers clamped so that ŝ·(q − z) fits int8. These bounds differ per group, which is why
// this is not core/ops' fake_quant.
TwoLevel two_level(const at::Tensor& W, const at::Tensor& s8, const at::Tensor& sg, const at::Tensor& z, int64_t G, double maxq) {
  const int64_t out = W.size(0), in = W.size(1), ng = in / G;
  const at::Tensor sh = (sg / s8.unsqueeze(1)).round().clamp(1, 127);
  const at::Tensor imax = (127.0 / sh).floor();
  const at::Tensor upper = (z + imax).clamp_max(maxq).unsqueeze(2), lower = (z - imax).clamp_min(0).unsqueeze(2);
  const at::Tensor eff = (sh * s8.unsqueeze(1)).unsqueeze(2);
  const at::Tensor lim = (s8 * 127.0).unsqueeze(1);
  const at::Tensor wc = at::min(at::max(W, -lim), lim).view({out, ng, G});
  at::Tensor q = (wc / eff).round() + z.unsqueeze(2);
  q = at::max(at::min(q, upper), lower);
  return {(eff * (q - z.unsqueeze(2))).view({out, in}), q, sh};
}

}  // namespace

at::Tensor dgq_quantize(const at::Tensor& w2d, const at::Tensor& H, const WeightQuant& s, const std::string& layer, DgqInfo* info) {
  QUENCH_CHECK(w2d.dim() == 2, layer, ": DGQ expects a [out, in] weight, got ", w2d.sizes());
  const int64_t out = w2d.size(0), in = w2d.size(1), G = s.group_size;
  QUENCH_CHECK(s.strategy == WeightStrategy::Group && G > 0 && in % G == 0, layer, ": DGQ needs groups that divide its ", in,
               " inputs (group_size ", G, ")");
  QUENCH_CHECK(H.dim() == 2 && H.size(0) == in && H.size(1) == in, layer, ": DGQ's Hessian is ", H.sizes(), ", expected [", in, ", ", in, "]");
  const int64_t ng = in / G;
  const double maxq = static_cast<double>((1 << s.bits) - 1);
  const at::Tensor W = w2d.to(at::kFloat).contiguous();
  const at::Tensor Hf = H.to(W.device(), at::kFloat);
  // The diagonal blocks H_gg, [groups, G, G]: a group's own share of the output error.
  const at::Tensor Hg = Hf.view({ng, G, ng, G}).diagonal(0, 0, 2).permute({2, 0, 1}).contiguous();
  const double inf = std::numeric_limits<double>::infinity();

  // Phase 1: the int4 groups.
  ops::QuantSpec spec;
  spec.bits = s.bits;
  spec.symmetric = false;
  spec.granularity = ops::Granularity::Group;
  spec.group_size = G;
  at::Tensor best = at::full({out, ng}, inf, W.options()), sg, zg, ratio_g;
  for (int i = 0; i < 20; ++i) {
    spec.clip = 1.02 - 0.22 * (i + 1) / 20.0;
    const ops::QuantParams p = ops::compute_qparams(W, spec);
    const at::Tensor d = (ops::fake_quant(W, p, spec) - W).view({out, ng, G});
    const at::Tensor err = (at::einsum("ogi,gij->ogj", {d, Hg}) * d).sum(-1);
    const at::Tensor better = err < best;
    const at::Tensor sc = p.scale.view({out, ng}).to(at::kFloat), z = p.zero.view({out, ng}).to(at::kFloat);
    best = at::where(better, err, best);
    sg = sg.defined() ? at::where(better, sc, sg) : sc;
    zg = zg.defined() ? at::where(better, z, zg) : z;
    ratio_g = ratio_g.defined() ? at::where(better, at::full_like(sc, spec.clip), ratio_g) : at::full_like(sc, spec.clip);
  }

  // Phase 2: one int8 scale per row that the group scales become integer multiples of.
  const at::Tensor rowmax = W.abs().amax(1).clamp_min(1e-12);
  at::Tensor best_row = at::full({out}, inf, W.options()), s8, ratio_c;
  for (int i = 0; i < 80; ++i) {
    const double r = 1.02 - 0.82 * (i + 1) / 80.0;
    const at::Tensor cand = rowmax * (r / 127.0);
    const at::Tensor d = two_level(W, cand, sg, zg, G, maxq).dq - W;
    const at::Tensor err = (d.matmul(Hf) * d).sum(1);
    const at::Tensor better = err < best_row;
    best_row = at::where(better, err, best_row);
    s8 = s8.defined() ? at::where(better, cand, s8) : cand;
    ratio_c = ratio_c.defined() ? at::where(better, at::full_like(cand, r), ratio_c) : at::full_like(cand, r);
  }
  TwoLevel t = two_level(W, s8, sg, zg, G, maxq);
  QUENCH_CHECK(at::isfinite(t.dq).all().item<bool>(), layer, ": DGQ produced non-finite weights");
  if (info) {
    info->mean_group_clip = ratio_g.mean().item<double>();
    info->mean_channel_clip = ratio_c.mean().item<double>();
    const double den = (W.matmul(Hf) * W).sum().item<double>();
    info->rel_loss = den > 0 ? best_row.sum().item<double>() / den : 0.0;
    info->q = t.q.view({out, in}).to(at::kByte);
    info->zero = zg.to(at::kByte);
    info->group_scale = t.sh.to(at::kByte);
    info->channel_scale = s8;
  }
  return t.dq;
}

QUENCH_WEIGHT_METHOD(dgq_method, 40) {
  static const WeightMethodInfo m{
      "dgq", "DGQ (int4 groups, int8 channel scales)", MethodData::Hessian, {},
      // an 8-bit integer scale per group over one fp16 scale per row
      [](const WeightQuant&, int64_t out, int64_t, double slots) { return slots * 8.0 + 16.0 * static_cast<double>(out); },
      "DGQ's integer group scales over int8 channel scales",
      [](WeightMethodCall& c) {
        DgqInfo info;
        c.weight = dgq_quantize(c.weight, c.take_hessian(), c.setting, c.layer.name(), &info);
        c.details["dgq_group_clip"] = info.mean_group_clip;
        c.details["dgq_channel_clip"] = info.mean_channel_clip;
        c.details["dgq_rel_loss"] = info.rel_loss;
        // No WeightEncoding: no exporter has a layout for two-level scales (unexportable above).
      },
      nullptr,
      [](const WeightQuant& w, const std::function<void(const char*, const std::string&)>& fail) {
        // Its second level makes ŝ·(q − z) an int8 matrix: wider fine integers leave ŝ no room.
        if (w.fp8 || w.ggml) fail("method", "\"dgq\" quantizes on its own two-level integer grid, not on FP8 or a ggml format");
        if (w.strategy != WeightStrategy::Group) fail("strategy", "method \"dgq\" quantizes in groups (strategy \"group\" with a group_size)");
        if (w.symmetric) fail("symmetric", "method \"dgq\" uses asymmetric groups (symmetric: false), as the paper does");
        if (w.bits > 4)
          fail("bits", "method \"dgq\" takes 2 to 4 bits: its groups' scales are integer multiples of an int8 scale, and (q − z) must fit int8 after them");
      },
      /*default_asymmetric=*/true};
  return m;
}

}  // namespace quench
