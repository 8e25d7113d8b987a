#include "core/stats/calibrate.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen.h on libtorch 2.x)

#include <chrono>
#include <map>
#include <set>

#include "core/stats/calibration_observer.h"
#include "core/util/error.h"

namespace quench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t batch_rows(const ModelInputs& in) {
  if (in.input_ids.defined()) return in.input_ids.dim() > 0 ? in.input_ids.size(0) : 1;
  if (in.pixel_values.defined()) return in.pixel_values.dim() > 0 ? in.pixel_values.size(0) : 1;
  fail("calibration batch has neither input_ids nor pixel_values");
}

// Weight statistics for every layer; tied weights (lm_head = embed_tokens) are computed once.
std::vector<WeightStats> all_weight_stats(const Model& model, const StatsOptions& so, const std::function<void(const std::string&)>& step) {
  std::vector<WeightStats> out;
  std::map<const void*, size_t> seen;  // weight storage → index in out
  for (const auto& l : model.layers()) {
    step(l->name());
    const at::Tensor& w = l->kernel() ? l->kernel()->dense_weight() : l->weight();
    const void* key = l->kernel() ? nullptr : w.unsafeGetTensorImpl();
    auto it = key ? seen.find(key) : seen.end();
    if (it != seen.end() && out[it->second].shape == w.sizes().vec()) {
      WeightStats copy = out[it->second];
      copy.layer = l->name();
      copy.kind = l->kind();
      out.push_back(std::move(copy));
      continue;
    }
    if (key) seen[key] = out.size();
    if (model.streaming() && !model.device().is_cpu()) {
      // The weight as the whole model would hold it, one layer at a time on the device: the same
      // statistics from the same kernels, instead of a CPU pass over the stored bytes.
      out.push_back(weight_stats(l->name(), l->kind(), l->weight().to(model.device(), model.dtype()), so));
      model.checkpoint().release_pages();
    } else if (model.streaming()) {
      // On the CPU the stored weight is read in place, its pages let go after each slice.
      out.push_back(weight_stats(*l, so, [&model] { model.checkpoint().release_pages(); }));
    } else {
      out.push_back(weight_stats(*l, so));
    }
  }
  return out;
}

}  // namespace

const ActivationStats* CalibrationResult::point(const std::string& name) const& {
  for (const auto& p : points)
    if (p.point == name) return &p;
  return nullptr;
}

const WeightStats* CalibrationResult::weight(const std::string& layer) const& {
  for (const auto& w : weights)
    if (w.layer == layer) return &w;
  return nullptr;
}

CalibrationResult calibrate(Model& model, const BatchSource& next_batch, const CalibrationOptions& opts, const Progress& progress) {
  const auto t0 = Clock::now();
  QUENCH_CHECK(static_cast<bool>(next_batch), "calibrate: no batch source");
  if (opts.histogram_bins < 2 || opts.histogram_bins % 2 != 0)
    throw UsageError("histogram bins must be an even number ≥ 2, got " + std::to_string(opts.histogram_bins));
  if (!(opts.outlier_multiple > 0))
    throw UsageError("outlier multiple must be positive, got " + std::to_string(opts.outlier_multiple));
  const PointPattern pattern(opts.points);
  std::vector<std::string> matched;
  for (const auto& p : model.points())
    if (pattern.matches(p.name)) matched.push_back(p.name);
  if (matched.empty())
    throw UsageError("point pattern '" + pattern.str() + "' matches none of the " + std::to_string(model.points().size()) + " points of " +
                     model.architecture() + (model.points().empty() ? "" : " (e.g. '" + model.points().front().name + "')"));

  const StatsOptions so{opts.histogram_bins, opts.outlier_multiple, opts.stats_kernels};
  const int64_t total = opts.expected_samples;
  CalibrationResult r;
  auto report = [&](const std::string& message) {
    if (!progress) return;
    double eta = -1;
    const double elapsed = seconds_since(t0);
    if (total > 0 && r.samples > 0) eta = r.samples >= total ? 0.0 : elapsed / static_cast<double>(r.samples) * static_cast<double>(total - r.samples);
    if (!progress(r.samples, total, eta, message)) throw Cancelled();
  };

  at::NoGradGuard no_grad;
  auto observer = std::make_shared<CalibrationObserver>(pattern, so);
  report("calibrating " + std::to_string(matched.size()) + " points");
  {
    ScopedObserver scoped(model.hooks(), observer);  // removed even when a forward or the source throws
    if (!model.streaming()) {
      while (opts.max_samples <= 0 || r.samples < opts.max_samples) {
        std::optional<ModelInputs> batch = next_batch();
        if (!batch) break;
        const int64_t rows = batch_rows(*batch);
        model.forward(*batch);
        r.samples += rows;
        r.tokens += batch->input_ids.defined() ? batch->input_ids.numel() : 0;
        ++r.batches;
        report("batch " + std::to_string(r.batches));
      }
    } else {
      // Block-major: every batch through block 0, then all through block 1, ... so each block is
      // read from the checkpoint and converted once, not once per batch. Each point still sees
      // the batches in their order, so the statistics are the same as batch by batch.
      std::vector<ModelInputs> batches;
      int64_t rows = 0;
      while (opts.max_samples <= 0 || rows < opts.max_samples) {
        std::optional<ModelInputs> batch = next_batch();
        if (!batch) break;
        rows += batch_rows(*batch);
        batches.push_back(std::move(*batch));
      }
      size_t done_batches = 0;
      model.forward_batches(
          batches,
          [&](size_t k, const at::Tensor&) {
            r.samples += batch_rows(batches[k]);
            r.tokens += batches[k].input_ids.defined() ? batches[k].input_ids.numel() : 0;
            ++r.batches;
            ++done_batches;
          },
          [&](int64_t i, int64_t n) {
            report("block " + std::to_string(i) + "/" + std::to_string(n) + " (" + std::to_string(batches.size() - done_batches) +
                   " batches at once)");
          });
      report("batch " + std::to_string(r.batches));
    }
  }
  if (r.batches == 0) throw UsageError("the calibration data yielded no batch");

  if (opts.weights) {
    size_t i = 0;
    const size_t n = model.layers().size();
    r.weights = all_weight_stats(model, so, [&](const std::string& layer) {
      report("weight statistics " + std::to_string(++i) + "/" + std::to_string(n) + ": " + layer);
    });
  }

  std::set<std::string> listed;
  for (const auto& p : model.points()) {
    listed.insert(p.name);
    if (observer->find(p.name)) r.points.push_back(observer->result(p.name));
    else if (pattern.matches(p.name)) r.warnings.push_back("point " + p.name + " matched but was never reached by a forward pass");
  }
  for (const auto& p : observer->points())  // tapped by the model without being listed: keep them too
    if (!listed.count(p)) r.points.push_back(observer->result(p));
  for (const auto& s : r.points)
    if (s.nonfinite > 0)
      r.warnings.push_back("point " + s.point + ": " + std::to_string(s.nonfinite) + " non-finite values in " +
                           std::to_string(s.nonfinite_batches) + " batches, left out of its statistics");
  r.observer_bytes = observer->memory_bytes();
  r.seconds = seconds_since(t0);
  report("done");
  return r;
}

}  // namespace quench
