// Zero-point search ("method": "zpsearch"): asymmetric round to nearest whose lower and upper range
// ends are shrunk separately, per scale slot, to the pair of shrinks that gives the lowest weight
// MSE. RTN's "clip": "mse" shrinks both ends by one ratio, so it cannot follow a weight whose tail
// lies on one side; moving the ends apart moves the zero point, which is what this searches. It is
// the grid form of llama.cpp's make_qkx2_quants (ggml-quants.c: the K-quants' min and scale are
// searched per block on the weight error) and of the asymmetric range search in GPTQ's quant.py
// (`mse` with separate xmin/xmax), without data.
// Reproduces (tests/core/zpsearch_test.cpp): never a higher weight MSE than min–max RTN in any slot
// (the unshrunk pair is a candidate), and a lower one than RTN's symmetric-ratio "mse" clip on
// weights with a one-sided tail.
//
// This file is the whole method: its registration line below puts it in the recipe parser, the
// pipeline, the size estimate, the exporters and the recipe editor (docs/adding-a-method.md).
#include <ATen/ATen.h>

#include "core/compress/rtn.h"
#include "core/compress/weight_method.h"
#include "core/ops/fake_quant.h"
#include "core/util/error.h"

namespace quench {

namespace {

// Each slot's minimum and maximum, shaped as the spec's scales are (ops::qparams_shape).
std::pair<at::Tensor, at::Tensor> slot_range(const at::Tensor& w, const ops::QuantSpec& spec) {
  switch (spec.granularity) {
    case ops::Granularity::Tensor: return {w.min().reshape({1}), w.max().reshape({1})};
    case ops::Granularity::Row: return {std::get<0>(w.min(1)), std::get<0>(w.max(1))};
    case ops::Granularity::Group: {
      const int64_t out = w.size(0), in = w.size(1), g = spec.group_size;
      QUENCH_CHECK(in % g == 0, "zpsearch: group size ", g, " does not divide the ", in, " inputs");
      const at::Tensor v = w.view({out, in / g, g});
      return {std::get<0>(v.min(2)), std::get<0>(v.max(2))};
    }
    case ops::Granularity::Column: break;
  }
  fail("zpsearch: weights take scales per tensor, row or group");
}

struct Searched {
  ops::QuantParams params;
  double lower_shrink = 0, upper_shrink = 0;  // means over slots
};

// Every (lower, upper) pair of shrinks i·max_shrink/steps, i = 0 … steps − 1, per slot.
Searched search(const at::Tensor& w, const ops::QuantSpec& spec, int64_t steps, double max_shrink) {
  const auto [mn, mx] = slot_range(w, spec);
  at::Tensor best_err, best_lo, best_hi, best_a, best_b;
  for (int64_t i = 0; i < steps; ++i) {
    const double a = max_shrink * static_cast<double>(i) / static_cast<double>(steps);
    const at::Tensor lo = mn * (1.0 - a);
    for (int64_t j = 0; j < steps; ++j) {
      const double b = max_shrink * static_cast<double>(j) / static_cast<double>(steps);
      const at::Tensor hi = mx * (1.0 - b);
      const ops::QuantParams p = ops::qparams_from_range({}, lo, hi, spec);
      const at::Tensor e = slot_weight_error(w, ops::fake_quant(w, p, spec), spec).reshape(mn.sizes());
      if (!best_err.defined()) {
        best_err = e, best_lo = lo, best_hi = hi;
        best_a = at::full_like(mn, a), best_b = at::full_like(mn, b);
        continue;
      }
      // strictly lower only: on ties the less shrunk range (earlier pair) stays
      const at::Tensor better = e < best_err;
      best_err = at::where(better, e, best_err);
      best_lo = at::where(better, lo, best_lo);
      best_hi = at::where(better, hi, best_hi);
      best_a = at::where(better, at::full_like(mn, a), best_a);
      best_b = at::where(better, at::full_like(mn, b), best_b);
    }
  }
  return {ops::qparams_from_range({}, best_lo, best_hi, spec), best_a.mean().item<double>(), best_b.mean().item<double>()};
}

}  // namespace

QUENCH_WEIGHT_METHOD(zpsearch_method, 60) {
  static const WeightMethodInfo m{
      "zpsearch", "Zero-point search (asymmetric RTN, both range ends searched)", MethodData::None,
      {MethodOption::integer("steps", 8, 1, 64, "Shrinks per end", "Zero-point search: shrinks tried for each end of a slot's range (steps² pairs)"),
       MethodOption::number("max_shrink", 0.3, 0.0, 0.95, 0.05, "Largest shrink",
                            "Zero-point search: the largest fraction either end of the range is moved towards zero")},
      // the values' scale and b-bit zero per slot, as asymmetric RTN
      [](const WeightQuant&, int64_t, int64_t, double slots) { return slots * 16.0; },
      "",
      [](WeightMethodCall& c) {
        const WeightQuant& w = c.setting;
        const ops::QuantSpec spec = w.spec();
        const at::Tensor w2d = c.weight.to(at::kFloat);
        Searched s = search(w2d, spec, w.integer("steps"), w.number("max_shrink"));
        c.weight = ops::fake_quant(w2d, s.params, spec);
        c.details["zp_lower_shrink"] = s.lower_shrink;
        c.details["zp_upper_shrink"] = s.upper_shrink;
        auto e = std::make_shared<WeightEncoding>();
        e->spec = spec;
        e->params = std::move(s.params);
        c.encoding = std::move(e);  // an ordinary asymmetric integer grid: both exporters write it
      },
      nullptr,
      [](const WeightQuant& w, const std::function<void(const char*, const std::string&)>& fail) {
        if (w.ggml) fail("method", "\"zpsearch\" searches zero points on an integer grid (format \"int\"), not on a ggml block type");
        if (w.symmetric) fail("symmetric", "method \"zpsearch\" searches each slot's zero point (symmetric: false)");
      },
      /*default_asymmetric=*/true,
      /*any_layer_kind=*/true};
  return m;
}

}  // namespace quench
