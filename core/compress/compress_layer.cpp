#include "core/compress/awq.h"
#include "core/compress/dgq.h"
#include "core/compress/family.h"
#include "core/compress/lowrank.h"
#include "core/compress/olive.h"
#include "core/compress/pipeline.h"
#include "core/compress/rtn.h"
#include "core/compress/sparsegpt.h"
#include "core/compress/wanda.h"
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
    PruneOutcome o;
    switch (p.prune->method) {
      case PruneMethod::Magnitude: o = prune_by_score(w2d, *p.prune); break;
      // diag H = (2/N) Σ x_j², a constant multiple of ‖X_:,j‖² — the same order within each row.
      case PruneMethod::Wanda: o = prune_by_score(w2d, *p.prune, hessian().diagonal().clamp_min(0).sqrt()); break;
      case PruneMethod::SparseGpt: {
        SparseGptInfo info;
        o = sparsegpt_prune(w2d, hessian(), *p.prune, l->name(), &info);
        s.details["sparsegpt_damp"] = info.damp;
        s.details["sparsegpt_loss"] = info.loss;
        if (info.dead_columns) s.details["dead_columns"] = info.dead_columns;
        break;
      }
    }
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
    const WeightQuant& w = *p.weights;
    switch (w.method) {
      case WeightMethod::Rtn: {
        if (w.olive) {
          OliveInfo info;
          w2d = olive_quantize(w2d, w, &info);
          s.details["olive_normal"] = info.flint ? "flint" : "int";
          s.details["outlier_fraction"] = info.outlier_fraction;
          s.details["victim_fraction"] = info.victim_fraction;
          s.details["mean_clip"] = info.mean_clip;
          break;  // no WeightEncoding: no export format holds outlier-victim pairs (both exporters refuse OliVe by name)
        }
        RtnInfo info;
        w2d = rtn_quantize(w2d, w, &info);
        if (w.clip == ClipMode::Mse) s.details["mean_clip"] = info.mean_clip;
        encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
        break;
      }
      case WeightMethod::Gptq: {
        GptqInfo info;
        hessian();  // into H, which GPTQ may then damp in place instead of copying (nothing reads it after)
        w2d = gptq_quantize(w2d, std::move(H), w, l->name(), &info);
        s.details["gptq_damp"] = info.damp;
        s.details["gptq_loss"] = info.loss;
        if (info.dead_columns) s.details["dead_columns"] = info.dead_columns;
        encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
        break;
      }
      case WeightMethod::Dgq: {
        DgqInfo info;
        w2d = dgq_quantize(w2d, hessian(), w, l->name(), &info);
        s.details["dgq_group_clip"] = info.mean_group_clip;
        s.details["dgq_channel_clip"] = info.mean_channel_clip;
        s.details["dgq_rel_loss"] = info.rel_loss;
        // No WeightEncoding: neither exporter has a layout for two-level scales (they refuse DGQ by name).
        break;
      }
      case WeightMethod::Awq: {  // the scales are folded already; clip search on the (scaled) inputs
        if (!folded_.count(l)) s.details["awq_scale"] = "none (no foldable preceding op)";
        if (w.clip_search && !awq_no_clip(model_, *l) && !w.ggml) {
          QUENCH_CHECK(cap && cap->rows.count(point), l->name(), ": AWQ saw no calibration inputs");
          double mean_clip = 1;
          auto e = std::make_shared<WeightEncoding>();
          e->spec = w.spec();
          e->params = awq_search_clip(w2d, at::cat(cap->rows.at(point), 0), w, &mean_clip, opts_.clip_tokens);
          s.details["mean_clip"] = mean_clip;
          w2d = ops::fake_quant(w2d, e->params, *e->spec);
          encoding = std::move(e);
        } else {
          // On a ggml grid the clip search is not run: its output-error search is written for Quench's integer grid.
          if (w.ggml && w.clip_search) s.details["awq_clip"] = "not searched on a ggml grid";
          RtnInfo info;
          w2d = rtn_quantize(w2d, minmax(w), &info);
          encoding = std::make_shared<WeightEncoding>(std::move(info.encoding));
        }
        break;
      }
    }
  }
  // The checkpoint stores only the kept values: quantization must not revive a pruned weight.
  if (s.mask.defined()) w2d = w2d * s.mask;
  record_weight(s, w2d);
  l->set_encoding(std::move(encoding));
}

}  // namespace quench::pipeline
