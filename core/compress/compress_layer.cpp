#include "core/compress/lowrank.h"
#include "core/compress/pipeline.h"
#include "core/compress/prune_method.h"
#include "core/compress/rtn.h"
#include "core/compress/weight_method.h"
#include "core/compress/weight_view.h"
#include "core/util/error.h"

namespace quench::pipeline {

void Pipeline::compress_layer(LayerState& s, const StageCapture* cap) {
  Layer* l = s.layer;
  const LayerPlan& p = *s.plan;
  const std::string& point = l->input_point();
  s.ref_weight = l->weight().to(at::kFloat).clone();
  at::Tensor w2d = weight_2d(s.ref_weight);
  at::Tensor H;
  auto hessian = [&]() -> const at::Tensor& {
    if (!H.defined()) {
      QUENCH_CHECK(cap && cap->hessians.count(point), l->name(), ": saw no calibration inputs (its method needs them)");
      H = cap->hessians.at(point)->hessian();
    }
    return H;
  };
  if (p.prune) {
    PruneMethodCall call{l->name(), *p.prune, w2d, hessian, s.details};
    const PruneOutcome o = prune_method(p.prune->method).prune(call);
    w2d = o.weight;
    s.mask = o.mask;
    s.kept = o.mask.sum().item<int64_t>();
  }
  if (p.lowrank) {
    at::Tensor abs_mean;
    if (needs_abs_mean(p)) {
      QUENCH_CHECK(cap && cap->abs_sum.count(point), l->name(), ": ASVD saw no calibration inputs");
      abs_mean = cap->abs_sum.at(point) / static_cast<double>(cap->abs_rows.at(point));
    }
    LowRankFactors f = lowrank_factorize(w2d, *p.lowrank, l->name(), p.lowrank->whitened() ? hessian() : at::Tensor(), abs_mean, model_.attention_head_dim());
    if (p.weights) {
      f.a = rtn_quantize(f.a, factor_a_setting(*p.weights, f.rank()));
      f.b = rtn_quantize(f.b, *p.weights);
    }
    s.rank = f.rank();
    s.details["rank"] = s.rank;
    if (!f.group_ranks.empty()) {
      s.details["group_ranks"] = f.group_ranks;
      // What the cache holds per token instead of the projection's outputs.
      s.details["cache_fraction"] = static_cast<double>(f.rank()) / static_cast<double>(w2d.size(0));
    }
    s.weight_err.add(f.dense(), w2d);
    const auto opts = l->weight().options();
    l->set_kernel(std::make_shared<LowRankKernel>(f.a.to(opts), f.b.to(opts), p.lowrank->describe(), f.parameters()));
    return;
  }
  std::shared_ptr<const WeightEncoding> encoding;
  if (p.weights) {
    WeightMethodCall call{model_, *l, *p.weights, w2d, {}, {}, folded_.count(l) != 0, opts_.clip_tokens, s.details, nullptr};
    // H moves into the method, which may then damp it in place instead of copying (nothing reads it after).
    call.take_hessian = [&]() -> at::Tensor {
      hessian();
      return std::move(H);
    };
    call.input_rows = [&]() -> at::Tensor {
      QUENCH_CHECK(cap && cap->rows.count(point), l->name(), ": ", weight_method(p.weights->method).title, " saw no calibration inputs");
      return at::cat(cap->rows.at(point), 0);
    };
    weight_method(p.weights->method).quantize(call);
    w2d = std::move(call.weight);
    encoding = std::move(call.encoding);
  }
  // The checkpoint stores only the kept values: quantization must not revive a pruned weight.
  if (s.mask.defined()) w2d = w2d * s.mask;
  record_weight(s, w2d);
  l->set_encoding(std::move(encoding));
}

}  // namespace quench::pipeline
