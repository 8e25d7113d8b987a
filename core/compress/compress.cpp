#include "core/compress/compress.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "core/compress/act_quant.h"
#include "core/compress/awq.h"
#include "core/compress/dgq.h"
#include "core/compress/family.h"
#include "core/compress/gptq.h"
#include "core/compress/hadamard_rotation.h"
#include "core/compress/kivi.h"
#include "core/compress/layer_error.h"
#include "core/compress/lowrank.h"
#include "core/compress/olive.h"
#include "core/compress/point_transforms.h"
#include "core/compress/quamba2.h"
#include "core/compress/repq_vit.h"
#include "core/compress/rtn.h"
#include "core/ops/fp8.h"
#include "core/compress/flap.h"
#include "core/compress/smoothquant.h"
#include "core/compress/sparsegpt.h"
#include "core/compress/wanda.h"
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

namespace {

// Thrown by a capture observer once every layer of a stage has seen its input: the rest of the
// block's forward is not needed. Not a std::exception, so nothing in between swallows it.
struct StopForward {};

int64_t channel_dim_of(LayerKind k) { return k == LayerKind::Linear || k == LayerKind::Embedding ? -1 : 1; }

// Everything the pipeline keeps about one compressed layer.
struct LayerState {
  Layer* layer = nullptr;
  const LayerPlan* plan = nullptr;
  at::Tensor ref_weight, ref_bias;  // float weight right before quantization (after smoothing/rotation)
  ops::QuantParams in_params, out_params;
  ErrorAccumulator weight_err, output_err;
  nlohmann::json details = nlohmann::json::object();
  at::Tensor mask;   // pruned layers: bool [out, in], true = kept
  int64_t rank = 0;  // low-rank layers
};

// What a layer's weight step needs from its calibration inputs.
bool needs_hessian(const LayerPlan& p) {
  return (p.weights && (p.weights->method == WeightMethod::Gptq || p.weights->method == WeightMethod::Dgq)) || (p.prune && p.prune->needs_data()) ||
         (p.lowrank && p.lowrank->whitened());
}
bool needs_rows(const LayerPlan& p) { return p.weights && p.weights->method == WeightMethod::Awq && !p.lowrank; }
bool needs_abs_mean(const LayerPlan& p) { return p.lowrank && p.lowrank->method == LowRankMethod::Asvd; }
// Quantization, pruning or factoring: something changes the layer's weight.
bool has_weight_step(const LayerPlan& p) { return p.weights || p.prune || p.lowrank; }

struct StageCapture;

// What ZipCache's transforms on one attention module share within a forward pass: the queries
// (tapped first), and the salient tokens the keys' transform chose, which the values' reuses.
struct ZipState {
  at::Tensor q, salient;
};

class Pipeline {
 public:
  Pipeline(Model& model, const ResolvedRecipe& plan, const CalibrationSet& calib, const CompressOptions& opts, const Progress& progress)
      : model_(model), plan_(plan), calib_(calib), opts_(opts), progress_(progress) {}

  CompressResult run();

 private:
  // --- progress ---
  void step(const std::string& message);
  Progress inner(const std::string& what);  // for nested calibrate() calls: cancellation passes through

  // --- steps ---
  void structure();
  void smooth();
  void reparameterize();
  void reorder();
  void rotate();
  void quantize_weights();
  void compress_layer(LayerState& s, const StageCapture* cap);
  void record_weight(LayerState& s, const at::Tensor& wq2d);
  void sequential_pass();
  void awq_scales(int64_t block, const std::vector<at::Tensor>& hs);
  void quantize_stage(int64_t block, const std::vector<at::Tensor>& hs, const std::vector<Layer*>& stage);
  void outside_blocks_data_layers(const std::vector<at::Tensor>& hs);
  void install_kv();
  void calibrate_activations();
  void measure();
  CompressResult results();

  bool data_method(const LayerState& s) const { return needs_hessian(*s.plan) || needs_rows(*s.plan) || needs_abs_mean(*s.plan); }

  Model& model_;
  const ResolvedRecipe& plan_;
  const CalibrationSet& calib_;
  const CompressOptions& opts_;
  const Progress& progress_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  int64_t steps_total_ = 0, steps_done_ = 0;
  std::string step_message_;

  std::vector<std::unique_ptr<LayerState>> states_;  // compressed layers, model order
  std::map<const Layer*, LayerState*> by_layer_;
  std::set<const Layer*> folded_;  // readers of a group AWQ folded a scale into
  PointTransforms transforms_;
  std::map<std::string, ops::QuantParams> point_params_;
  std::map<std::string, ErrorAccumulator> point_err_, kv_err_;
  std::map<std::string, std::pair<double, double>> kv_scales_;  // FP8 KV: module → (k scale, v scale)
  std::map<std::string, std::shared_ptr<ZipState>> zip_;          // ZipCache: module → its shared state
  std::map<std::string, at::Tensor> point_groups_;                // Quamba2: point → scale group of each channel
  nlohmann::json details_ = nlohmann::json::object();
  std::vector<std::string> warnings_;
};

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

namespace {
// The setting with its own range (no clip search): what AWQ's scale search quantizes with.
WeightQuant minmax(WeightQuant w) {
  w.clip = ClipMode::MinMax;
  return w;
}
}  // namespace

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

// Captures what a stage's layers see: a Hessian per GPTQ, Wanda, SparseGPT or SVD-LLM layer (Wanda
// reads ‖X_:,j‖ off its diagonal), input rows per AWQ layer, mean |x| per ASVD layer.
struct StageCapture : Observer {
  std::map<std::string, LayerState*> by_point;
  std::map<std::string, std::unique_ptr<HessianAccumulator>> hessians;
  std::map<std::string, std::vector<at::Tensor>> rows;  // AWQ: input rows kept (up to a limit)
  std::map<std::string, int64_t> kept;
  std::map<std::string, at::Tensor> abs_sum;  // ASVD: F64 Σ|x| per input
  std::map<std::string, int64_t> abs_rows;
  std::set<std::string> seen;
  int64_t row_limit = 0;
  bool early_stop = true;

  void observe(const std::string& point, const at::Tensor& t, int64_t) override {
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
};

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
    // AWQ's scales for the whole block first (on its float weights, as the reference does), then
    // the stages in order: each captures its inputs from the block with the earlier stages quantized.
    awq_scales(i, hs);
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

void Pipeline::awq_scales(int64_t block, const std::vector<at::Tensor>& hs) {
  auto is_awq = [&](const Layer* l) {
    auto it = by_layer_.find(l);
    return it != by_layer_.end() && needs_rows(*it->second->plan);
  };
  std::vector<BlockScaleGroup> groups;
  for (auto& g : block_scale_groups(model_, block))
    if (std::any_of(g.layers.begin(), g.layers.end(), is_awq)) groups.push_back(std::move(g));
  if (groups.empty()) return;
  // Folding is exact in float, so one capture of the float block serves every group: each group's
  // fold changes only its own readers' input (÷ s), which the search accounts for.
  std::vector<at::Tensor> sub, ref;
  int64_t n = 0;
  for (size_t j = 0; j < hs.size() && n < std::max<int64_t>(1, opts_.search_samples); ++j) {
    sub.push_back(hs[j]);
    n += hs[j].size(0);
  }
  std::map<std::string, std::vector<at::Tensor>> inputs;
  std::set<std::string> wanted;
  for (const auto& g : groups) wanted.insert(g.layers.front()->input_point());
  {
    auto obs = std::make_shared<FunctionObserver>([&](const std::string& p, const at::Tensor& t, int64_t) {
      if (wanted.count(p)) inputs[p].push_back(t.detach().reshape({-1, t.size(-1)}).to(at::kFloat));
    });
    ScopedObserver scoped(model_.hooks(), obs);
    for (const auto& h : sub) ref.push_back(model_.block(block, h));
  }
  for (const auto& g : groups) {
    std::vector<Layer*> awq_layers;
    for (Layer* l : g.layers)
      if (is_awq(l)) awq_layers.push_back(l);
    const std::string point = g.layers.front()->input_point();
    QUENCH_CHECK(inputs.count(point), g.layers.front()->name(), ": AWQ saw no calibration inputs");
    const at::Tensor xmean = at::cat(inputs.at(point), 0).abs().mean(0);
    std::vector<at::Tensor> w0;
    for (Layer* l : awq_layers) w0.push_back(l->weight());
    // Loss: MSE of the block's output with only this group's AWQ layers quantized.
    auto loss = [&](const at::Tensor& s) {
      for (size_t k = 0; k < awq_layers.size(); ++k) {
        const at::Tensor w = weight_2d(w0[k]) * s.unsqueeze(0);
        const at::Tensor wq = rtn_quantize(w, minmax(*by_layer_.at(awq_layers[k])->plan->weights));
        awq_layers[k]->set_weight(weight_like(wq / s.unsqueeze(0), w0[k]));
      }
      double num = 0, den = 0;
      for (size_t j = 0; j < sub.size(); ++j) {
        const at::Tensor out = model_.block(block, sub[j]);
        num += (out - ref[j]).to(at::kDouble).pow(2).sum().item<double>();
        den += static_cast<double>(out.numel());
      }
      for (size_t k = 0; k < awq_layers.size(); ++k) awq_layers[k]->set_weight(w0[k]);
      return num / den;
    };
    const AwqScale best = awq_search_scale(xmean, by_layer_.at(awq_layers.front())->plan->weights->grid, loss);
    fold_scale(model_, g, best.scale);
    for (Layer* l : g.layers) {
      folded_.insert(l);
      if (!by_layer_.count(l)) continue;
      auto& d = by_layer_.at(l)->details;
      d["awq_ratio"] = best.ratio;
      d["awq_loss"] = best.loss;
      d["awq_loss_unscaled"] = best.loss_plain;
    }
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
        model_.block(block, h);
      } catch (const StopForward&) {
      }
    }
  }
  for (Layer* l : stage) compress_layer(*by_layer_.at(l), cap.get());
}

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
        w2d = gptq_quantize(w2d, hessian(), w, l->name(), &info);
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
  auto cap = std::make_shared<StageCapture>();
  cap->by_point[l->input_point()] = &s;
  cap->row_limit = opts_.clip_tokens;
  cap->early_stop = false;
  {
    ScopedObserver scoped(model_.hooks(), cap);
    at::NoGradGuard ng;
    for (const auto& h : hs) model_.head(h);
  }
  compress_layer(s, cap.get());
}

namespace {
// What a quantized KV cache returns for the keys (or values) written to it. FP8 uses the module's
// calibrated per-tensor scale; KIVI computes its own per group.
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
}  // namespace

void Pipeline::install_kv() {
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
    transforms_.add(k.k_point, "quant", kv_transform(k, true, 0, zip));
    transforms_.add(k.v_point, "quant", kv_transform(k, false, 0, zip));
  }
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

void Pipeline::measure() {
  if (calib_.empty() || opts_.measure_samples <= 0) return;
  step("measuring per-layer errors");
  std::map<std::string, PointTransforms::Probe> probes;
  for (auto& sp : states_) {
    LayerState* s = sp.get();
    if (s->layer->kind() == LayerKind::Embedding) continue;  // its input is ids: weight error only
    s->ref_bias = s->layer->bias().defined() ? s->layer->bias().to(at::kFloat) : at::Tensor();
    const int64_t cd = channel_dim_of(s->layer->kind());
    probes[s->layer->input_point()] = [s, cd](const at::Tensor& x) {
      const at::Tensor xf = x.to(at::kFloat);
      const at::Tensor ref = s->layer->apply(xf, s->ref_weight.to(xf.device()), s->ref_bias);
      at::Tensor xq = s->plan->input ? act_fake_quant(x, *s->plan->input, s->in_params, cd) : x;
      at::Tensor y = s->layer->compute(xq).to(at::kFloat);
      if (s->plan->output) y = act_fake_quant(y, *s->plan->output, s->out_params, cd);
      s->output_err.add(y, ref);
    };
  }
  for (const auto& p : plan_.points) {
    ErrorAccumulator* acc = &point_err_[p.point];
    const ActQuant a = p.act;
    const ops::QuantParams params = point_params_[p.point];
    probes[p.point] = [acc, a, params](const at::Tensor& x) { acc->add(act_fake_quant(x, a, params, -1), x); };
  }
  for (const auto& k : plan_.kv) {
    ErrorAccumulator* acc = &kv_err_[k.module];
    const auto sc = kv_scales_.count(k.module) ? kv_scales_.at(k.module) : std::pair<double, double>{0, 0};
    const auto zip = zip_.count(k.module) ? zip_.at(k.module) : nullptr;
    probes[k.k_point] = [acc, f = kv_transform(k, true, sc.first, zip)](const at::Tensor& x) { acc->add(f(x), x); };
    probes[k.v_point] = [acc, f = kv_transform(k, false, sc.second, zip)](const at::Tensor& x) { acc->add(f(x), x); };
  }
  transforms_.install(model_.hooks(), probes, "quant");
  try {
    at::NoGradGuard ng;
    for (const auto& b : calib_.first(opts_.measure_samples)) model_.forward(b);
  } catch (...) {
    transforms_.install(model_.hooks());
    throw;
  }
  transforms_.install(model_.hooks());
  ++steps_done_;
}

CompressResult Pipeline::results() {
  CompressResult r;
  r.size = estimate_size(model_, plan_);
  std::map<std::string, const LayerSize*> sizes;
  for (const auto& l : r.size.layers) sizes[l.layer] = &l;
  auto reshaped = [](const Layer& l) {
    return l.weight().sizes() != l.original_weight().sizes() || l.bias().defined() != l.original_bias().defined();
  };
  auto bias_of = [](const at::Tensor& b) { return b.defined() ? b.numel() : int64_t{0}; };
  for (const auto& lp : model_.layers()) {
    const Layer& l = *lp;
    if (by_layer_.count(&l) || !reshaped(l)) continue;
    // Only structured pruning touched this layer: a smaller float weight, no error measured.
    LayerResult lr;
    lr.layer = l.name();
    lr.kind = layer_kind_name(l.kind());
    lr.settings = {{"structured", plan_.structured ? plan_.structured->to_json() : nlohmann::json()}, {"sources", {"structured"}},
                   {"shape", l.weight().sizes().vec()}};
    lr.bits = sizes.count(lr.layer) ? sizes.at(lr.layer)->bits_per_weight() : 16.0;
    lr.params_before = l.original_weight().numel() + bias_of(l.original_bias());
    lr.params_after = l.weight().numel() + bias_of(l.bias());
    r.layers.push_back(std::move(lr));
  }
  for (auto& s : states_) {
    if (s->plan->input && !s->plan->input->dynamic) r.static_inputs[s->layer->name()] = s->in_params;
    LayerResult lr;
    lr.layer = s->layer->name();
    lr.kind = layer_kind_name(s->layer->kind());
    lr.settings = s->plan->to_json();
    if (!s->details.empty()) lr.settings["details"] = s->details;
    if (reshaped(*s->layer)) {
      lr.settings["structured"] = plan_.structured ? plan_.structured->to_json() : nlohmann::json();
      lr.settings["shape"] = s->layer->weight().sizes().vec();
    }
    lr.bits = sizes.count(lr.layer) ? sizes.at(lr.layer)->bits_per_weight() : 16.0;
    const int64_t bias = s->layer->original_bias().defined() ? s->layer->original_bias().numel() : 0;
    lr.params_before = s->layer->original_weight().numel() + bias;
    lr.params_after = s->layer->parameters();  // the kernel's factors, or the weight
    if (s->mask.defined()) {
      const int64_t kept = s->mask.sum().item<int64_t>();
      lr.params_after = kept + bias_of(s->layer->bias());
      lr.sparsity = 1.0 - static_cast<double>(kept) / static_cast<double>(s->mask.numel());
    }
    if (s->rank > 0) lr.rank = s->rank;
    lr.weight_rel_mse = s->weight_err.rel_mse();
    lr.weight_sqnr_db = s->weight_err.sqnr_db();
    lr.output_rel_mse = s->output_err.rel_mse();
    lr.output_sqnr_db = s->output_err.sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  for (const auto& k : plan_.kv) {
    LayerResult lr;
    lr.layer = k.module;
    lr.kind = "kv_cache";
    lr.settings = {{"kv_cache", k.kv.to_json()}, {"sources", {k.source}}};
    lr.bits = k.kv.bits_per_element();
    if (const auto it = kv_scales_.find(k.module); it != kv_scales_.end()) {
      lr.settings["details"] = {{"k_scale", it->second.first}, {"v_scale", it->second.second}};
      r.kv_scales[k.module] = it->second;
    }
    lr.output_rel_mse = kv_err_[k.module].rel_mse();
    lr.output_sqnr_db = kv_err_[k.module].sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  for (const auto& p : plan_.points) {
    LayerResult lr;
    lr.layer = p.point;
    lr.kind = "activation";
    lr.settings = {{"activations", p.act.to_json()}, {"sources", {p.source}}};
    const at::Tensor& scale = point_params_[p.point].scale;
    if (!p.act.dynamic && scale.defined() && scale.numel() == 1) lr.settings["details"] = {{"scale", scale.item<double>()}};
    if (const auto g = point_groups_.find(p.point); g != point_groups_.end() && scale.defined())
      lr.settings["details"] = {{"scale_groups", g->second.max().item<int64_t>() + 1},
                                {"min_scale", scale.min().item<double>()},
                                {"max_scale", scale.max().item<double>()}};
    lr.bits = p.act.bits;
    lr.output_rel_mse = point_err_[p.point].rel_mse();
    lr.output_sqnr_db = point_err_[p.point].sqnr_db();
    r.layers.push_back(std::move(lr));
  }
  r.warnings = plan_.warnings;
  r.warnings.insert(r.warnings.end(), warnings_.begin(), warnings_.end());
  r.details = details_;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  return r;
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

}  // namespace

CompressResult compress(Model& model, const ResolvedRecipe& plan, const CalibrationSet& calib, const CompressOptions& opts,
                        const Progress& progress) {
  Pipeline p(model, plan, calib, opts, progress);
  return p.run();
}

}  // namespace quench
