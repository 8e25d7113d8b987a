#include "core/compress/compress.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "core/compress/act_quant.h"
#include "core/compress/dgq.h"
#include "core/compress/family.h"
#include "core/compress/gptq.h"
#include "core/compress/hadamard_rotation.h"
#include "core/compress/kivi.h"
#include "core/compress/layer_error.h"
#include "core/compress/lowrank.h"
#include "core/compress/olive.h"
#include "core/compress/pipeline.h"
#include "core/ops/gpu_memory.h"
#include "core/compress/point_transforms.h"
#include "core/compress/quamba2.h"
#include "core/compress/repq_vit.h"
#include "core/compress/rtn.h"
#include "core/ops/fp8.h"
#include "core/compress/flap.h"
#include "core/compress/smoothquant.h"
#include "core/compress/sparsegpt.h"
#include "core/compress/wanda.h"
#include "core/compress/weight_method.h"
#include "core/compress/weight_view.h"
#include "core/compress/zipcache.h"
#include "core/util/error.h"

namespace quench {

std::string layer_kind_name(LayerKind k) {
  switch (k) {
    case LayerKind::Linear: return "linear";
    case LayerKind::Conv1d: return "conv1d";
    case LayerKind::Conv2d: return "conv2d";
    case LayerKind::Embedding: return "embedding";
  }
  return "?";
}


namespace pipeline {

void Pipeline::step(const std::string& message) {
  step_message_ = message;
  if (!progress_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double eta = steps_done_ > 0 ? elapsed / steps_done_ * (steps_total_ - steps_done_) : -1.0;
  if (!progress_(steps_done_, steps_total_, eta, message)) throw Cancelled();
}

Progress Pipeline::inner(const std::string& what) {
  return [this, what](int64_t done, int64_t total, double, const std::string& msg) {
    if (!progress_) return true;
    std::string m = what + ": " + msg;
    if (total > 0) m += " (" + std::to_string(done) + "/" + std::to_string(total) + ")";
    return progress_(steps_done_, steps_total_, -1.0, m);
  };
}

void Pipeline::structure() {
  if (!plan_.structured) return;
  step("structured pruning: " + plan_.structured->describe());
  const FlapOutcome o = apply_flap(model_, *plan_.structured, calib_.source(), inner("FLAP"));
  details_["structured"] = plan_.structured->to_json();
  details_["structured"]["outcome"] = o.to_json();
  ++steps_done_;
}

void Pipeline::smooth() {
  if (!plan_.smoothquant_alpha) return;
  step("SmoothQuant: calibrating activation maxima");
  const auto groups = apply_smoothquant(model_, *plan_.smoothquant_alpha, calib_.source(), inner("SmoothQuant"));
  nlohmann::json j = nlohmann::json::array();
  for (const auto& g : groups) j.push_back({{"prev", g.prev}, {"layers", g.layers}, {"min_scale", g.min_scale}, {"max_scale", g.max_scale}});
  details_["smoothquant"] = {{"alpha", *plan_.smoothquant_alpha}, {"groups", j}};
  ++steps_done_;
}

void Pipeline::reparameterize() {
  if (!plan_.repq) return;
  step("RepQ-ViT: calibrating post-LayerNorm channel ranges");
  auto bits_of = [&](const Layer& l) {
    const auto it = by_layer_.find(&l);
    if (it == by_layer_.end() || !it->second->plan->input) return 0;
    const ActQuant& a = *it->second->plan->input;
    return a.fp8 || a.log_sqrt2 ? 0 : a.bits;
  };
  const auto groups = apply_repq(model_, bits_of, calib_.source(), inner("RepQ-ViT"));
  nlohmann::json j = nlohmann::json::array();
  for (const auto& g : groups) j.push_back({{"norm", g.norm}, {"layers", g.layers}, {"bits", g.bits}, {"min_r1", g.min_r1}, {"max_r1", g.max_r1}});
  details_["repq"] = {{"groups", j}};
  if (groups.empty()) warnings_.push_back("repq: no LayerNorm group has readers that quantize their input with biases to take the shift");
  ++steps_done_;
}

void Pipeline::reorder() {
  if (!plan_.quamba2) return;
  step("Quamba2: sort-and-cluster of the scan inputs, reordering heads and channels");
  const Quamba2Outcome o = apply_quamba2(model_, calib_.source(), inner("Quamba2"));
  point_groups_ = o.groups;
  details_["quamba2"] = {{"mixers", o.to_json()}, {"rotated_residual", o.rotated_residual}};
  ++steps_done_;
}

void Pipeline::rotate() {
  for (auto& s : states_) {
    if (!s->plan->hadamard) continue;
    rotate_layer_weight(*s->layer);
    transforms_.add(s->layer->input_point(), "rotate", hadamard_input_transform());
  }
}

void Pipeline::record_weight(LayerState& s, const at::Tensor& wq2d) {
  s.weight_err.add(wq2d, weight_2d(s.ref_weight));
  s.layer->set_weight(weight_like(wq2d, s.layer->weight()));
}

void Pipeline::quantize_weights() {
  bool any_data = false;
  for (auto& s : states_) any_data = any_data || data_method(*s);
  if (!any_data) {
    step("compressing weights (no calibration data needed)");
    for (auto& s : states_)
      if (has_weight_step(*s->plan)) compress_layer(*s, nullptr);
    ++steps_done_;
    return;
  }
  QUENCH_CHECK(!calib_.empty(), "GPTQ, AWQ, Wanda, SparseGPT, ASVD and SVD-LLM need calibration data");
  sequential_pass();
}

void StageCapture::observe(const std::string& point, const at::Tensor& t, int64_t) {
  auto it = by_point.find(point);
  if (it == by_point.end()) return;
  LayerState& s = *it->second;
  const int64_t in = s.layer->in_features();
  const at::Tensor x = t.detach().reshape({-1, in});
  if (needs_hessian(*s.plan)) {
    auto& h = hessians[point];
    if (!h) h = std::make_unique<HessianAccumulator>(in);
    h->add(x);
  }
  if (needs_rows(*s.plan) && kept[point] < row_limit) {
    const int64_t take = std::min<int64_t>(row_limit - kept[point], x.size(0));
    rows[point].push_back(x.narrow(0, 0, take).to(at::kFloat).clone());
    kept[point] += take;
  }
  if (needs_abs_mean(*s.plan)) {
    const at::Tensor a = x.abs().to(at::kDouble).sum(0);
    abs_sum[point] = abs_sum.count(point) ? abs_sum[point] + a : a;
    abs_rows[point] += x.size(0);
  }
  seen.insert(point);
  if (early_stop && seen.size() == by_point.size()) throw StopForward{};
}

void Pipeline::sequential_pass() {
  std::set<const Layer*> in_blocks;
  for (int64_t b = 0; b < model_.num_blocks(); ++b)
    for (Layer* l : model_.block_layers(b)) in_blocks.insert(l);
  // Layers outside the blocks that need no data (embeddings, a ViT patch or ResNet stem conv) go
  // first, so the blocks calibrate on their quantized outputs.
  step("compressing layers outside the blocks");
  for (auto& s : states_)
    if (has_weight_step(*s->plan) && !in_blocks.count(s->layer) && !data_method(*s)) compress_layer(*s, nullptr);

  at::NoGradGuard ng;
  std::vector<at::Tensor> hs;
  for (const auto& b : calib_.batches) hs.push_back(model_.embed(b));
  for (int64_t i = 0; i < model_.num_blocks(); ++i) {
    step("block " + std::to_string(i + 1) + "/" + std::to_string(model_.num_blocks()) + ": " + model_.block_name(i));
    // Block-wide method steps first (AWQ's scales, on the float weights as the reference does),
    // then the stages in order: each captures its inputs from the block with the earlier stages quantized.
    block_steps(i, hs);
    for (const auto& stage : block_stages(model_, i)) {
      std::vector<Layer*> targets;
      for (Layer* l : stage) {
        auto it = by_layer_.find(l);
        if (it != by_layer_.end() && has_weight_step(*it->second->plan)) targets.push_back(l);
      }
      if (!targets.empty()) quantize_stage(i, hs, targets);
    }
    for (auto& h : hs) h = model_.block(i, h);
    ++steps_done_;
  }
  outside_blocks_data_layers(hs);
}

void Pipeline::block_steps(int64_t block, const std::vector<at::Tensor>& hs) {
  for (const WeightMethodInfo* m : weight_methods()) {
    if (!m->before_block) continue;
    const bool used = std::any_of(states_.begin(), states_.end(), [&](const auto& s) { return s->plan->weights && s->plan->weights->method == m->name; });
    if (!used) continue;
    // The samples a block search scores on, brought to the device once.
    std::vector<at::Tensor> sub;
    int64_t n = 0;
    for (size_t j = 0; j < hs.size() && n < std::max<int64_t>(1, opts_.search_samples); ++j) {
      sub.push_back(on_device(hs[j]));
      n += hs[j].size(0);
    }
    BlockMethodCall call{model_,
                         block,
                         sub,
                         [&](const Layer* l) -> const WeightQuant* {
                           auto it = by_layer_.find(l);
                           // a factored layer's weights are its factors, rounded to nearest
                           const LayerPlan* p = it == by_layer_.end() ? nullptr : it->second->plan;
                           return p && p->weights && p->weights->method == m->name && !p->lowrank ? &*p->weights : nullptr;
                         },
                         [&](const Layer* l, const std::string& key, const nlohmann::json& v) {
                           if (auto it = by_layer_.find(l); it != by_layer_.end()) it->second->details[key] = v;
                         },
                         [&](const Layer* l) { folded_.insert(l); }};
    m->before_block(call);
  }
}

void Pipeline::quantize_stage(int64_t block, const std::vector<at::Tensor>& hs, const std::vector<Layer*>& stage) {
  auto cap = std::make_shared<StageCapture>();
  for (Layer* l : stage)
    if (data_method(*by_layer_.at(l))) cap->by_point[l->input_point()] = by_layer_.at(l);
  cap->row_limit = std::max<int64_t>(opts_.clip_tokens, 1);
  if (!cap->by_point.empty()) {
    ScopedObserver scoped(model_.hooks(), cap);
    for (const auto& h : hs) {
      cap->seen.clear();
      try {
        model_.block(block, on_device(h));
      } catch (const StopForward&) {
      }
    }
    trace_gpu_memory(model_.device(), "capturing the inputs of " + stage.front()->name());
    // The last layer to read a Hessian takes the sum itself rather than a copy.
    std::map<std::string, int> uses;
    for (Layer* l : stage)
      if (needs_hessian(*by_layer_.at(l)->plan)) ++uses[l->input_point()];
    for (auto& [point, h] : cap->hessians) h->expect_uses(uses[point]);
  }
  for (Layer* l : stage) {
    compress_layer(*by_layer_.at(l), cap.get());
    if (model_.streaming()) lighten_reference(*by_layer_.at(l), measuring_);
    trace_gpu_memory(model_.device(), "compressing " + l->name());
  }
}

void Pipeline::outside_blocks_data_layers(const std::vector<at::Tensor>& hs) {
  std::set<const Layer*> in_blocks;
  for (int64_t b = 0; b < model_.num_blocks(); ++b)
    for (Layer* l : model_.block_layers(b)) in_blocks.insert(l);
  std::vector<Layer*> rest;
  for (auto& s : states_)
    if (data_method(*s) && !in_blocks.count(s->layer)) rest.push_back(s->layer);
  if (rest.empty()) return;
  QUENCH_CHECK(rest.size() == 1 && rest.front()->name() == head_layer(model_), rest.front()->name(),
               ": methods that need calibration data apply outside the blocks to the output head only");
  Layer* l = rest.front();
  LayerState& s = *by_layer_.at(l);
  Model::Resident resident(model_, {l});  // a streamed head is converted for its capture and step
  auto cap = std::make_shared<StageCapture>();
  cap->by_point[l->input_point()] = &s;
  cap->row_limit = opts_.clip_tokens;
  cap->early_stop = false;
  {
    ScopedObserver scoped(model_.hooks(), cap);
    at::NoGradGuard ng;
    for (const auto& h : hs) model_.head(on_device(h));
  }
  compress_layer(s, cap.get());
  model_.settle({l});
}

Transform kv_transform(const KvPlan& plan, bool keys, double fp8_scale, const std::shared_ptr<ZipState>& zip) {
  const KvQuant& kv = plan.kv;
  if (kv.method == KvMethod::Fp8) return [fp8_scale](const at::Tensor& x) { return ops::fake_quant_e4m3(x, fp8_scale); };
  // Each cached token's channels in scale blocks (the resolver checked that a head is whole blocks).
  if (kv.fp4()) return [t = kv.fp4_type()](const at::Tensor& x) { return fp4_fake_quant(x, t); };
  if (kv.method == KvMethod::ZipCache) {
    QUENCH_CHECK(zip, plan.module, ": ZipCache without its shared state");
    if (keys)
      return [zip, kv, d = plan.head_dim, module = plan.module](const at::Tensor& x) {
        QUENCH_CHECK(zip->q.defined() && zip->q.size(1) == x.size(1), module, ": ZipCache saw keys before the queries of the same pass");
        zip->salient = zipcache_salient(zipcache_saliency(zip->q, x, d, kv.probe), kv.salient);
        return zipcache_keys(x, zip->salient, kv);
      };
    return [zip, kv, module = plan.module](const at::Tensor& x) {
      QUENCH_CHECK(zip->salient.defined() && zip->salient.size(1) == x.size(1), module, ": ZipCache saw values before the keys of the same pass");
      return zipcache_values(x, zip->salient, kv);
    };
  }
  if (keys) return [kv](const at::Tensor& x) { return kivi_keys(x, kv); };
  return [kv](const at::Tensor& x) { return kivi_values(x, kv); };
}


void Pipeline::install_kv() {
  std::map<int64_t, KvQuant> kivi;  // block → its KIVI store's setting
  // FP8 caches need their scales first: calibrate_activations installs them.
  for (const auto& k : plan_.kv) {
    if (k.kv.method == KvMethod::Fp8) continue;
    std::shared_ptr<ZipState> zip;
    if (k.kv.method == KvMethod::ZipCache) {
      zip = zip_[k.module] = std::make_shared<ZipState>();
      // The queries pass unchanged; the keys' transform reads them.
      transforms_.add(k.q_point, "quant", [zip](const at::Tensor& x) {
        zip->q = x;
        return x;
      });
    }
    Transform kt = kv_transform(k, true, 0, zip), vt = kv_transform(k, false, 0, zip);
    if (const int64_t b = kivi_store_block(k); b >= 0) {
      // Decoding keeps this cache in KIVI's own store (below), which quantizes as tokens leave its
      // window; the whole-sequence simulation would quantize a prompt twice.
      kt = [kt, m = &model_](const at::Tensor& x) { return m->decoding() ? x : kt(x); };
      vt = [vt, m = &model_](const at::Tensor& x) { return m->decoding() ? x : vt(x); };
      kivi[b] = k.kv;
    }
    transforms_.add(k.k_point, "quant", kt);
    transforms_.add(k.v_point, "quant", vt);
  }
  if (!kivi.empty())
    model_.set_kv_store_factory([kivi](int64_t block) -> std::unique_ptr<KvStore> {
      const auto it = kivi.find(block);
      return it == kivi.end() ? nullptr : std::make_unique<KiviKvStore>(it->second);
    });
}

int64_t Pipeline::kivi_store_block(const KvPlan& k) const {
  // The store needs a float window of whole groups and heads of whole value groups; other KIVI
  // settings keep their simulation while decoding too (each step's tokens as the transform sees them).
  if (k.kv.method != KvMethod::Kivi || k.kv.residual <= 0 || k.kv.residual % k.kv.group_size != 0 || k.head_dim <= 0 ||
      k.head_dim % k.kv.group_size != 0)
    return -1;
  for (int64_t b = 0; b < model_.num_blocks(); ++b)
    if (k.module.rfind(model_.block_name(b) + ".", 0) == 0) return b;
  return -1;
}

void Pipeline::calibrate_activations() {
  // Static quantizers need their ranges: one pass with the rotations and the KV cache in place,
  // on the quantized weights, activations still in float.
  std::vector<std::string> points;
  for (auto& s : states_) {
    if (s->plan->input && !s->plan->input->dynamic) points.push_back(s->layer->input_point());
    if (s->plan->output && !s->plan->output->dynamic) points.push_back(s->layer->output_point());
  }
  for (const auto& p : plan_.points)
    if (!p.act.dynamic) points.push_back(p.point);
  for (const auto& k : plan_.kv)
    if (k.kv.method == KvMethod::Fp8) points.insert(points.end(), {k.k_point, k.v_point});
  CalibrationResult cal;
  if (!points.empty()) {
    QUENCH_CHECK(!calib_.empty(), "static activation quantization needs calibration data");
    step("calibrating " + std::to_string(points.size()) + " static activation quantizers");
    transforms_.install(model_.hooks());
    CalibrationOptions co;
    std::string list;
    for (const auto& p : points) list += (list.empty() ? "" : ",") + p;
    co.points = list;
    co.weights = false;
    co.histogram_bins = opts_.histogram_bins;
    cal = calibrate(model_, calib_.source(), co, inner("activation ranges"));
    ++steps_done_;
    details_["activation_calibration"] = {{"points", points.size()}, {"samples", cal.samples}, {"seconds", cal.seconds}};
  }
  auto stats = [&](const std::string& point) -> const ActivationStats& {
    const ActivationStats* st = cal.point(point);
    QUENCH_CHECK(st, point, ": not reached by the calibration data, so its static scale cannot be calibrated");
    return *st;
  };
  for (auto& s : states_) {
    const int64_t cd = channel_dim_of(s->layer->kind());
    if (s->plan->input) {
      if (!s->plan->input->dynamic) s->in_params = static_act_params(*s->plan->input, stats(s->layer->input_point()));
      transforms_.add(s->layer->input_point(), "quant", act_quant_transform(*s->plan->input, s->in_params, cd));
      if (!s->plan->input->dynamic) {
        const auto r = static_act_range(*s->plan->input, stats(s->layer->input_point()));
        s->details["input_range"] = {r.first, r.second};
      }
    }
    if (s->plan->output) {
      if (!s->plan->output->dynamic) s->out_params = static_act_params(*s->plan->output, stats(s->layer->output_point()));
      transforms_.add(s->layer->output_point(), "quant", act_quant_transform(*s->plan->output, s->out_params, cd));
    }
  }
  for (const auto& k : plan_.kv) {
    if (k.kv.method != KvMethod::Fp8) continue;
    // absmax / 448 puts the largest key (value) seen on FP8's largest value, as llm-compressor's
    // minmax observer does for kv_cache_scheme; an all-zero tensor keeps scale 1.
    auto scale = [&](const std::string& point) {
      const ActivationStats& st = stats(point);
      QUENCH_CHECK(st.all.count > 0, point, ": no finite values were observed, so no FP8 KV scale can be calibrated");
      return st.all.absmax > 0 ? st.all.absmax / ops::kE4m3Max : 1.0;
    };
    const std::pair<double, double> s{scale(k.k_point), scale(k.v_point)};
    kv_scales_[k.module] = s;
    transforms_.add(k.k_point, "quant", kv_transform(k, true, s.first, nullptr));
    transforms_.add(k.v_point, "quant", kv_transform(k, false, s.second, nullptr));
  }
  for (const auto& p : plan_.points) {
    ops::QuantParams params;
    const auto grouped = point_groups_.find(p.point);
    if (grouped != point_groups_.end()) params = grouped_act_params(p.act, stats(p.point), grouped->second);
    else if (!p.act.dynamic) params = static_act_params(p.act, stats(p.point));
    point_params_[p.point] = params;
    transforms_.add(p.point, "quant", act_quant_transform(p.act, params, -1));
  }
  transforms_.install(model_.hooks());
}

CompressResult Pipeline::run() {
  at::NoGradGuard ng;
  model_.reset_compression();
  for (const auto& lp : plan_.layers) {
    if (!lp.compressed()) continue;
    auto s = std::make_unique<LayerState>();
    s->layer = &model_.layer(lp.layer);
    s->plan = &lp;
    by_layer_[s->layer] = s.get();
    states_.push_back(std::move(s));
  }
  if (plan_.needs_calibration())
    QUENCH_CHECK(!calib_.empty(), "this recipe needs calibration data (GPTQ, AWQ, Wanda, SparseGPT, activation-aware SVD, SmoothQuant, FLAP or static activations)");
  if (model_.streaming()) {
    check_streamable();
    streamed_pass();
    step("done");
    return results();
  }
  bool any_data = false, any_static = !plan_.points.empty();
  for (auto& s : states_) {
    any_data = any_data || data_method(*s);
    any_static = any_static || (s->plan->input && !s->plan->input->dynamic) || (s->plan->output && !s->plan->output->dynamic);
  }
  steps_total_ = (plan_.structured ? 1 : 0) + (plan_.smoothquant_alpha ? 1 : 0) + (plan_.repq ? 1 : 0) + (plan_.quamba2 ? 1 : 0) + (any_data ? model_.num_blocks() : 1) + (any_static ? 1 : 0) +
                 (calib_.empty() || opts_.measure_samples <= 0 ? 0 : 1);
  structure();  // first: every later step sees the smaller layers
  smooth();
  reparameterize();
  reorder();
  rotate();
  transforms_.install(model_.hooks());  // block passes see rotated inputs, matching the rotated weights
  quantize_weights();
  install_kv();
  calibrate_activations();
  // Weights that were never quantized (activation-only or rotation-only layers) are their own reference.
  for (auto& s : states_)
    if (!s->ref_weight.defined()) s->ref_weight = s->layer->weight().to(at::kFloat).clone();
  measure();
  step("done");
  return results();
}

}  // namespace pipeline


CompressResult compress(Model& model, const ResolvedRecipe& plan, const CalibrationSet& calib, const CompressOptions& opts,
                        const Progress& progress) {
  pipeline::Pipeline p(model, plan, calib, opts, progress);
  return p.run();
}

}  // namespace quench
