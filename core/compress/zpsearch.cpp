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
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "core/compress/weight_method.h"
#include "core/ops/fake_quant.h"
#include "core/util/error.h"
#include "kernels/quant_math.h"

namespace quench {

namespace {

namespace qmath = kernels::qmath;

struct Searched {
  ops::QuantParams params;
  double lower_shrink = 0, upper_shrink = 0;  // means over slots
};

// Every (lower, upper) pair of shrinks i·max_shrink/steps, i = 0 … steps − 1, per slot, scored by
// the slot's squared error through the shared scalar formulas (kernels/quant_math.h), one pass over
// the slot's values per pair. A loop per slot and not tensor ops per pair: the tensor form made
// steps² passes over the whole weight with their temporaries (121 s for a 4096² weight on the
// project's 2-core CPU under load; this form 10 s under the same load, 4.5 s idle). The search runs on the CPU whatever the weight's
// device; the chosen ranges become parameters through ops::qparams_from_range.
Searched search(const at::Tensor& w_in, const ops::QuantSpec& spec, int64_t steps, double max_shrink) {
  const at::Tensor w = w_in.to(at::kCPU, at::kFloat).contiguous();
  const int64_t out = w.size(0), in = w.size(1);
  int64_t slot_len = in, slots = out;  // Row
  if (spec.granularity == ops::Granularity::Group) {
    QUENCH_CHECK(in % spec.group_size == 0, "zpsearch: group size ", spec.group_size, " does not divide the ", in, " inputs");
    slot_len = spec.group_size, slots = out * (in / spec.group_size);
  } else if (spec.granularity == ops::Granularity::Tensor) {
    slot_len = out * in, slots = 1;
  } else {
    QUENCH_CHECK(spec.granularity == ops::Granularity::Row, "zpsearch: weights take scales per tensor, row or group");
  }
  std::vector<float> shrink(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) shrink[i] = static_cast<float>(max_shrink * static_cast<double>(i) / static_cast<double>(steps));
  at::Tensor lo = at::empty({slots}, at::kFloat), hi = at::empty({slots}, at::kFloat);
  at::Tensor lo_shrink = at::empty({slots}, at::kFloat), hi_shrink = at::empty({slots}, at::kFloat);
  const float* x = w.data_ptr<float>();
  float *plo = lo.data_ptr<float>(), *phi = hi.data_ptr<float>(), *pls = lo_shrink.data_ptr<float>(), *phs = hi_shrink.data_ptr<float>();
  const float qlo = qmath::qmin(spec.bits, false), qhi = qmath::qmax(spec.bits, false);
  at::parallel_for(0, slots, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const float* v = x + k * slot_len;
      float mn = v[0], mx = v[0];
      for (int64_t t = 1; t < slot_len; ++t) mn = std::min(mn, v[t]), mx = std::max(mx, v[t]);
      double best = -1;
      for (int64_t i = 0; i < steps; ++i)
        for (int64_t j = 0; j < steps; ++j) {
          const float a = mn * (1.f - shrink[i]), b = mx * (1.f - shrink[j]);
          float scale, zero;
          qmath::scale_zero_asymmetric(a, b, spec.bits, 1.f, &scale, &zero);
          double e = 0;
          for (int64_t t = 0; t < slot_len; ++t) {
            const float d = qmath::dequantize(qmath::quantize(v[t], scale, zero, qlo, qhi), scale, zero) - v[t];
            e += static_cast<double>(d) * d;
          }
          // strictly lower only: on ties the less shrunk range (the earlier pair) stays
          if (best < 0 || e < best) best = e, plo[k] = a, phi[k] = b, pls[k] = shrink[i], phs[k] = shrink[j];
        }
    }
  });
  const std::vector<int64_t> shape = ops::qparams_shape(w, spec);
  ops::QuantParams p = ops::qparams_from_range({}, lo.view(shape), hi.view(shape), spec);
  p.scale = p.scale.to(w_in.device());
  p.zero = p.zero.to(w_in.device());
  return {std::move(p), lo_shrink.mean().item<double>(), hi_shrink.mean().item<double>()};
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
