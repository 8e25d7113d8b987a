#include "core/compress/rtn.h"

#include "core/compress/olive.h"
#include "core/compress/weight_method.h"
#include "core/ops/fp8.h"
#include "core/util/error.h"

namespace quench {

std::vector<double> mse_clip_ratios() {
  std::vector<double> r;
  for (int i = 0; i < 20; ++i) r.push_back(1.0 - 0.025 * i);
  return r;
}

at::Tensor slot_weight_error(const at::Tensor& w2d, const at::Tensor& w_fake, const ops::QuantSpec& spec) {
  auto e = (w_fake - w2d).pow(2);  // [out, in]
  switch (spec.granularity) {
    case ops::Granularity::Tensor: return e.sum().reshape({1});
    case ops::Granularity::Row: return e.sum(1);
    case ops::Granularity::Group: {
      const int64_t out = w2d.size(0), in = w2d.size(1), g = spec.group_size;
      QUENCH_CHECK(in % g == 0, "slot_weight_error: group size ", g, " does not divide ", in);
      return e.view({out, in / g, g}).sum(2).reshape({-1});
    }
    case ops::Granularity::Column: return e.sum(0);
  }
  fail("slot_weight_error: unknown granularity");
}

ops::QuantParams search_clip(const at::Tensor& w2d, const ops::QuantSpec& spec_in, const std::vector<double>& ratios, const SlotError& error,
                             at::Tensor* ratios_out) {
  QUENCH_CHECK(!ratios.empty(), "search_clip: no clip ratios");
  ops::QuantSpec spec = spec_in;
  at::Tensor best_err, best_scale, best_zero, best_ratio;
  std::vector<int64_t> shape;
  for (double r : ratios) {
    spec.clip = r;
    ops::QuantParams p = ops::compute_qparams(w2d, spec);
    shape = p.scale.sizes().vec();
    const at::Tensor wq = ops::fake_quant(w2d, p, spec);
    const at::Tensor e = error(wq).reshape({-1}).to(at::kDouble);
    const at::Tensor s = p.scale.reshape({-1});
    const at::Tensor z = p.zero.defined() ? p.zero.reshape({-1}) : at::Tensor();
    if (!best_err.defined()) {
      best_err = e;
      best_scale = s.clone();
      best_zero = z.defined() ? z.clone() : z;
      best_ratio = at::full_like(s, r);
      continue;
    }
    const at::Tensor better = e < best_err;
    best_err = at::where(better, e, best_err);
    best_scale = at::where(better, s, best_scale);
    if (z.defined()) best_zero = at::where(better, z, best_zero);
    best_ratio = at::where(better, at::full_like(s, r), best_ratio);
  }
  ops::QuantParams out;
  out.scale = best_scale.reshape(shape);
  if (best_zero.defined()) out.zero = best_zero.reshape(shape);
  if (ratios_out) *ratios_out = best_ratio;
  return out;
}

ops::GgmlParams ggml_search_clip(const at::Tensor& w2d, GgmlType t, const std::vector<double>& ratios) {
  QUENCH_CHECK(!ratios.empty(), "ggml_search_clip: no clip ratios");
  const int64_t R = w2d.size(0), unit = ops::ggml_grid_info(t).unit, units = w2d.size(1) / unit;
  const auto opts = w2d.options().dtype(at::kFloat);
  at::Tensor best_err, best_ratio;
  for (double r : ratios) {
    const at::Tensor ratio = at::full({R, units}, r, opts);
    const at::Tensor wq = ops::ggml_fake_quant(w2d, ops::ggml_fit(w2d, t, ratio));
    const at::Tensor e = (wq - w2d).pow(2).reshape({R, units, unit}).sum(-1);
    if (!best_err.defined()) {
      best_err = e;
      best_ratio = ratio;
      continue;
    }
    const at::Tensor better = e < best_err;
    best_err = at::where(better, e, best_err);
    best_ratio = at::where(better, ratio, best_ratio);
  }
  return ops::ggml_fit(w2d, t, best_ratio);
}

namespace {
// RTN's "clip": "mse"; other methods that round with rtn_quantize (AWQ's unsearched layers) use min–max.
bool mse_clip(const WeightQuant& s) { return s.has_option("clip") && s.text("clip") == "mse"; }
}  // namespace

at::Tensor rtn_quantize(const at::Tensor& w2d, const WeightQuant& s, RtnInfo* info) {
  QUENCH_CHECK(w2d.dim() == 2, "rtn_quantize: expects a 2-d weight, got ", w2d.sizes());
  RtnInfo local;
  RtnInfo& out = info ? *info : local;
  out.encoding = {};
  if (s.ggml) {
    ops::GgmlParams p = !mse_clip(s) ? ops::ggml_fit(w2d, *s.ggml) : ggml_search_clip(w2d, *s.ggml, mse_clip_ratios());
    at::Tensor wq = ops::ggml_fake_quant(w2d, p);
    out.mean_clip = 1.0;
    out.encoding.ggml = std::move(p);
    return wq;
  }
  const ops::QuantSpec spec = s.spec();
  out.encoding.spec = spec;
  if (s.fp8) {
    // FP8 E4M3: scale = absmax / 448 per output channel (Row) or per tensor, values rounded to E4M3.
    const at::Tensor w = w2d.to(at::kFloat);
    const at::Tensor amax = spec.granularity == ops::Granularity::Row ? w.abs().amax(1) : w.abs().max().reshape({1});
    out.encoding.params.scale = at::where(amax > 0, amax / ops::kE4m3Max, at::ones_like(amax));
    out.mean_clip = 1.0;
    const at::Tensor scale = spec.granularity == ops::Granularity::Row ? out.encoding.params.scale.unsqueeze(1) : out.encoding.params.scale;
    return ops::fake_quant_e4m3(w2d, scale);
  }
  if (!mse_clip(s)) {
    out.mean_clip = 1.0;
    return ops::fake_quant(w2d, spec, &out.encoding.params);
  }
  at::Tensor chosen;
  out.encoding.params = search_clip(
      w2d, spec, mse_clip_ratios(), [&](const at::Tensor& wq) { return slot_weight_error(w2d, wq, spec); }, &chosen);
  out.mean_clip = chosen.mean().item<double>();
  return ops::fake_quant(w2d, out.encoding.params, spec);
}

QUENCH_WEIGHT_METHOD(rtn_method, 10) {
  static const WeightMethodInfo m{
      "rtn", "RTN (round to nearest)", MethodData::None,
      {MethodOption::choice("clip", "minmax", {{"minmax", "min–max of each group"}, {"mse", "MSE search of the range"}}, "Clipping",
                            "RTN: how each scale's range is chosen")
           .tagged("mse-clip")
           .for_grids(kIntGrid | kGgmlGrid)},
      [](const WeightQuant&, int64_t, int64_t, double slots) { return slots * 16.0; },
      "",
      [](WeightMethodCall& c) {
        const WeightQuant& w = c.setting;
        if (w.olive) {
          OliveInfo info;
          c.weight = olive_quantize(c.weight, w, &info);
          c.details["olive_normal"] = info.flint ? "flint" : "int";
          c.details["outlier_fraction"] = info.outlier_fraction;
          c.details["victim_fraction"] = info.victim_fraction;
          c.details["mean_clip"] = info.mean_clip;
          return;  // no WeightEncoding: no export format holds outlier-victim pairs (both exporters refuse OliVe by name)
        }
        RtnInfo info;
        c.weight = rtn_quantize(c.weight, w, &info);
        if (mse_clip(w)) c.details["mean_clip"] = info.mean_clip;
        c.encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
      },
      nullptr,
      [](const WeightQuant& w, const std::function<void(const char*, const std::string&)>& fail) {
        if (w.olive && w.options.contains("clip")) fail("clip", "OliVe searches its scale over 88 ratios of max(|μ ± 3σ|) itself (remove it)");
        if (w.fp8 && mse_clip(w)) fail("clip", "FP8 weights use their absolute maximum (clip \"minmax\")");
      },
      false,
      /*any_layer_kind=*/true,
      /*fixed_grids=*/true};
  return m;
}

}  // namespace quench
