#include "core/compress/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "core/compress/compress.h"
#include "core/compress/family.h"
#include "core/compress/schemes.h"
#include "core/compress/size_estimate.h"
#include "core/stats/point_pattern.h"
#include "core/store/metrics.h"
#include "core/util/error.h"

namespace quench {

const char* sensitivity_metric_name(SensitivityMetric m) {
  switch (m) {
    case SensitivityMetric::Perplexity: return metric_names::kPerplexity;
    case SensitivityMetric::Kl: return metric_names::kKl;
    case SensitivityMetric::Top1: return metric_names::kTop1;
  }
  return "?";
}

SensitivityCandidate candidate_from_string(const std::string& s) {
  SensitivityCandidate c;
  if (expand_scheme(s)) {
    c.name = s;
    c.setting = {{"scheme", s}};
    return c;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range for a number like 1e3084
    throw RecipeError("setting", "", "setting '" + s + "' is neither a scheme (" + scheme_examples() + ") nor a JSON object");
  }
  if (!j.is_object()) throw RecipeError("setting", "", "setting '" + s + "' must be a JSON object");
  if (j.contains("name") && j["name"].is_string()) {
    c.name = j["name"].get<std::string>();
    j.erase("name");
  }
  c.setting = j;
  if (c.name.empty()) {
    if (j.contains("weights") && j["weights"].is_object()) {
      c.name = parse_weight_quant(j["weights"], "setting.weights").describe();
    } else {
      c.name = j.dump();
    }
  }
  return c;
}

std::vector<size_t> SensitivityResult::ranking(size_t candidate) const {
  std::vector<size_t> idx(units.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return units[a].entries.at(candidate).delta > units[b].entries.at(candidate).delta; });
  return idx;
}

nlohmann::json SensitivityResult::to_json() const {
  nlohmann::json j = {{"metric", sensitivity_metric_name(metric)}, {"base", base}, {"candidates", candidates}, {"seconds", seconds}};
  j["units"] = nlohmann::json::array();
  for (const auto& u : units) {
    nlohmann::json e = nlohmann::json::array();
    for (const auto& x : u.entries) {
      nlohmann::json ej = {{"candidate", x.candidate}, {"metric", x.metric}, {"delta", x.delta}, {"bits", x.bits}, {"density", x.density}};
      if (x.weight_rel_mse) ej["weight_rel_mse"] = *x.weight_rel_mse;
      e.push_back(ej);
    }
    j["units"].push_back({{"name", u.name}, {"layers", u.layers}, {"weights", u.weights}, {"entries", e}});
  }
  return j;
}

namespace {

// The float model's block inputs on the evaluation batches, and what the metric needs from it.
class Scorer {
 public:
  Scorer(Model& model, const CalibrationSet& eval, SensitivityMetric metric) : model_(model), eval_(eval), metric_(metric) {
    at::NoGradGuard ng;
    const int64_t L = model.num_blocks();
    cached_.assign(static_cast<size_t>(L + 1), {});
    for (size_t j = 0; j < eval.batches.size(); ++j) {
      at::Tensor h = model.embed(inputs(j));
      for (int64_t i = 0; i < L; ++i) {
        cached_[i].push_back(h);
        h = model.block(i, h);
      }
      cached_[L].push_back(h);
      const at::Tensor logits = model.head(h).to(at::kFloat);
      if (metric_ == SensitivityMetric::Kl) base_logp_.push_back(at::log_softmax(logits, -1));
    }
    base_ = score(-1, &base_nll_);
  }

  double base() const { return base_; }
  double base_nll() const { return base_nll_; }

  // The metric with the model as it is now, starting from block `start`'s cached float input
  // (-1: from the embedding). nll receives the mean NLL for text.
  double score(int64_t start, double* nll = nullptr) {
    at::NoGradGuard ng;
    const int64_t L = model_.num_blocks();
    double nll_sum = 0, kl_sum = 0;
    int64_t tokens = 0, positions = 0, correct = 0, images = 0;
    for (size_t j = 0; j < eval_.batches.size(); ++j) {
      at::Tensor h = start < 0 ? model_.embed(inputs(j)) : cached_[start][j];
      for (int64_t i = std::max<int64_t>(start, 0); i < L; ++i) h = model_.block(i, h);
      const at::Tensor logits = model_.head(h).to(at::kFloat);
      const at::Tensor logp = at::log_softmax(logits, -1);
      if (model_.modality() == Modality::Text) {
        const at::Tensor targets = eval_.batches[j].input_ids.narrow(1, 1, eval_.batches[j].input_ids.size(1) - 1).to(logp.device());
        nll_sum += -logp.gather(-1, targets.unsqueeze(-1)).to(at::kDouble).sum().item<double>();
        tokens += targets.numel();
      } else {
        QUENCH_CHECK(j < eval_.labels.size(), "sensitivity: image batches need labels");
        correct += logits.argmax(-1).eq(eval_.labels[j].to(logits.device())).sum().item<int64_t>();
        images += logits.size(0);
      }
      if (!base_logp_.empty()) {
        const at::Tensor& b = base_logp_[j];
        kl_sum += (b.exp() * (b - logp)).sum(-1).to(at::kDouble).sum().item<double>();
        positions += b.numel() / b.size(-1);
      }
    }
    const double mean_nll = tokens ? nll_sum / static_cast<double>(tokens) : 0.0;
    if (nll) *nll = mean_nll;
    switch (metric_) {
      case SensitivityMetric::Perplexity: return std::exp(mean_nll);
      case SensitivityMetric::Kl: return positions ? kl_sum / static_cast<double>(positions) : 0.0;
      case SensitivityMetric::Top1: return images ? static_cast<double>(correct) / static_cast<double>(images) : 0.0;
    }
    return 0;
  }

 private:
  ModelInputs inputs(size_t j) const {
    ModelInputs in = eval_.batches[j];
    if (in.input_ids.defined()) in.input_ids = in.input_ids.narrow(1, 0, in.input_ids.size(1) - 1);  // the last token is only a target
    return in;
  }

  Model& model_;
  const CalibrationSet& eval_;
  SensitivityMetric metric_;
  std::vector<std::vector<at::Tensor>> cached_;  // [block][batch] float inputs of each block; [L] the last output
  std::vector<at::Tensor> base_logp_;
  double base_ = 0, base_nll_ = 0;
};

Recipe unit_recipe(const std::vector<std::string>& layers, const SensitivityCandidate& c) {
  nlohmann::json o = c.setting;
  o["match"] = layers;
  return Recipe::parse({{"name", "sensitivity " + c.name}, {"overrides", nlohmann::json::array({o})}}, "setting " + c.name);
}

}  // namespace

std::vector<SensitivityUnit> sensitivity_units(const Model& model, const SensitivityOptions& opts) {
  // The layers a recipe default reaches (or the globs given), alone or by block.
  const std::string head = head_layer(model);
  std::vector<Layer*> chosen;
  for (const auto& l : model.layers()) {
    bool take = false;
    if (opts.layers.empty()) take = (l->kind() == LayerKind::Linear || l->kind() == LayerKind::Conv2d) && l->name() != head;
    else
      for (const auto& g : opts.layers) take = take || glob_match(g, l->name());
    if (take) chosen.push_back(l.get());
  }
  QUENCH_CHECK(!chosen.empty(), "sensitivity: no layer of ", model.architecture(), " matches the layer patterns");
  std::map<const Layer*, int64_t> block_of;
  for (int64_t b = 0; b < model.num_blocks(); ++b)
    for (Layer* l : model.block_layers(b)) block_of[l] = b;
  std::vector<SensitivityUnit> units;
  std::map<int64_t, size_t> unit_of_block;
  for (Layer* l : chosen) {
    const auto it = block_of.find(l);
    // Embeddings, stems and heads stay units of their own also by block.
    if (!opts.per_block || it == block_of.end()) {
      units.push_back({l->name(), {l->name()}, l->weight().numel(), {}});
      continue;
    }
    if (!unit_of_block.count(it->second)) {
      unit_of_block[it->second] = units.size();
      units.push_back({model.block_name(it->second), {}, 0, {}});
    }
    auto& u = units[unit_of_block.at(it->second)];
    u.layers.push_back(l->name());
    u.weights += l->weight().numel();
  }
  return units;
}

SensitivityResult sensitivity(Model& model, const std::vector<SensitivityCandidate>& candidates, const CalibrationSet& eval,
                              const CalibrationSet& calib, const SensitivityOptions& opts, const Progress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  QUENCH_CHECK(!candidates.empty(), "sensitivity: no candidate settings");
  QUENCH_CHECK(!eval.empty(), "sensitivity: no evaluation data");
  if (opts.metric == SensitivityMetric::Top1) QUENCH_CHECK(model.modality() == Modality::Image, "sensitivity: top1 is a metric for image classifiers");
  if (opts.metric == SensitivityMetric::Perplexity)
    QUENCH_CHECK(model.modality() == Modality::Text, "sensitivity: perplexity is a metric for language models (use top1 or kl)");
  model.reset_compression();

  SensitivityResult r;
  r.metric = opts.metric;
  r.units = sensitivity_units(model, opts);
  // Each unit's forward restarts at its first block (-1: from the embeddings; num_blocks: the head).
  const std::string head = head_layer(model);
  std::map<std::string, int64_t> block_of;
  for (int64_t b = 0; b < model.num_blocks(); ++b)
    for (Layer* l : model.block_layers(b)) block_of[l->name()] = b;
  std::vector<int64_t> starts;
  std::vector<std::string> all;
  for (const auto& u : r.units) {
    const auto it = block_of.find(u.layers.front());
    starts.push_back(it != block_of.end() ? it->second : (u.layers.front() == head ? model.num_blocks() : -1));
    all.insert(all.end(), u.layers.begin(), u.layers.end());
  }
  // Every candidate must apply to every unit before anything runs.
  for (const auto& c : candidates) {
    r.candidates.push_back(c.name);
    const ResolvedRecipe rr = resolve(unit_recipe(all, c), model);
    if (rr.needs_calibration()) QUENCH_CHECK(!calib.empty(), "sensitivity: setting ", c.name, " needs calibration data (GPTQ, AWQ or static activations)");
  }

  const int64_t total = static_cast<int64_t>(r.units.size() * candidates.size()) + 1;
  ProgressTracker tracker(progress, total);
  tracker.report(0, "evaluating the float model");
  Scorer scorer(model, eval, opts.metric);
  r.base = scorer.base();
  r.base_nll = scorer.base_nll();
  tracker.report(1, "float model: " + std::to_string(r.base));
  CompressOptions co;
  co.measure_samples = 0;
  int64_t done = 1;
  for (size_t u = 0; u < r.units.size(); ++u) {
    auto& unit = r.units[u];
    for (const auto& c : candidates) {
      const ResolvedRecipe rr = resolve(unit_recipe(unit.layers, c), model);
      const CompressResult cr = compress(model, rr, calib, co);
      SensitivityEntry e;
      e.candidate = c.name;
      double nll = 0;
      e.metric = scorer.score(starts[u], &nll);
      e.delta = opts.metric == SensitivityMetric::Perplexity ? nll - r.base_nll
                : opts.metric == SensitivityMetric::Kl     ? e.metric
                                                           : r.base - e.metric;
      double bits = 0, n = 0, stored = 0;
      for (const auto& ls : cr.size.layers)
        if (std::find(unit.layers.begin(), unit.layers.end(), ls.layer) != unit.layers.end()) {
          bits += ls.bits;
          n += static_cast<double>(ls.weights);
          stored += static_cast<double>(ls.stored);
        }
      e.bits = n > 0 ? bits / n : 16.0;
      e.density = n > 0 ? stored / n : 1.0;
      if (unit.layers.size() == 1)
        for (const auto& lr : cr.layers)
          if (lr.layer == unit.layers.front()) e.weight_rel_mse = lr.weight_rel_mse;
      unit.entries.push_back(e);
      model.reset_compression();
      tracker.report(++done, unit.name + " " + c.name + ": " + std::to_string(e.metric));
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace quench
