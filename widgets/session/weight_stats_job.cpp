#include "widgets/session/weight_stats_job.h"

#include <QElapsedTimer>

#include "core/stats/weight_stats.h"
#include "core/stats/weight_stats_cache.h"
#include "widgets/jobs/job_context.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
// Long enough to batch many small layers into one table update, short enough to look live.
constexpr qint64 kBatchMs = 150;

// Whether a cache entry describes exactly these layers (a model of the same files always does;
// this guards against an entry of an older Quench that binds layers differently).
bool matches(const std::vector<WeightStats>& cached, const Model& model) {
  if (cached.size() != model.layers().size()) return false;
  for (size_t i = 0; i < cached.size(); ++i)
    if (cached[i].layer != model.layers()[i]->name() || cached[i].shape != model.layers()[i]->shape()) return false;
  return true;
}
}  // namespace

Job weightStatsJob(std::shared_ptr<ModelSession> session, at::Device device, WeightStatsJobOptions opts, std::function<void()> finished) {
  Job job;
  job.title = QObject::tr("Weight statistics on %1").arg(QString::fromStdString(device.str()));
  job.work = [session, device, opts](JobContext& ctx) {
    const Model& model = *session->model();
    const auto n = static_cast<int64_t>(model.layers().size());
    std::string key;
    if (!opts.cache_dir.empty()) {
      try {
        key = weight_stats_key(model.checkpoint(), StatsOptions{});
      } catch (const std::exception& e) {
        ctx.log(QObject::tr("weight statistics cache: %1").arg(QString::fromStdString(e.what())));
      }
    }
    if (!key.empty() && opts.read_cache) {
      std::string problem;
      auto cached = load_weight_stats(opts.cache_dir, key, &problem);
      if (!problem.empty()) ctx.log(QObject::tr("weight statistics cache: %1").arg(QString::fromStdString(problem)));
      if (cached && matches(*cached, model)) {
        int64_t with_outliers = 0;
        for (const auto& s : *cached) with_outliers += s.outliers.channels.empty() ? 0 : 1;
        ctx.post([session, b = std::move(*cached)]() mutable { session->addWeightStats(std::move(b)); });
        ctx.progress(n, n);
        ctx.log(QObject::tr("weight statistics: %1 layers, %2 with outlier input channels (kept from an earlier pass: %3)")
                    .arg(n)
                    .arg(with_outliers)
                    .arg(QString::fromStdString((opts.cache_dir / (key + ".cbor")).string())));
        return;
      }
    }
    std::vector<WeightStats> all(static_cast<size_t>(n)), batch;
    std::vector<bool> done(static_cast<size_t>(n), false);
    QElapsedTimer since_post;
    since_post.start();
    auto post = [&] {
      ctx.post([session, b = std::move(batch)]() mutable { session->addWeightStats(std::move(b)); });
      batch.clear();
      since_post.restart();
    };
    int64_t with_outliers = 0, next = 0;
    for (int64_t step = 0; step < n; ++step) {
      ctx.check_cancelled();
      // The layer on screen first, then the rest in model order.
      int64_t i = opts.wanted ? opts.wanted->exchange(-1) : -1;
      if (i < 0 || i >= n || done[static_cast<size_t>(i)]) {
        while (done[static_cast<size_t>(next)]) ++next;
        i = next;
      }
      const Layer& layer = *model.layers()[static_cast<size_t>(i)];
      ctx.progress(step, n, QString::fromStdString(layer.name()));
      // Weights stay as stored until here; only this layer's moves to the device. The weight read
      // is the one weight_stats(const Layer&) reads: a kernel's dense weight when there is one.
      const at::Tensor weight = layer.kernel() ? layer.kernel()->dense_weight() : layer.weight();
      WeightStats s = weight_stats(layer.name(), layer.kind(), weight.to(device));
      if (!s.outliers.channels.empty()) ++with_outliers;
      all[static_cast<size_t>(i)] = s;
      done[static_cast<size_t>(i)] = true;
      batch.push_back(std::move(s));
      // The wanted layer shows at once; the others in batches.
      if (since_post.elapsed() >= kBatchMs || (opts.wanted && i != next)) post();
    }
    if (!batch.empty()) post();
    ctx.progress(n, n);
    ctx.log(QObject::tr("weight statistics: %1 layers, %2 with outlier input channels").arg(n).arg(with_outliers));
    if (!key.empty()) {
      try {
        store_weight_stats(opts.cache_dir, key, all);
      } catch (const std::exception& e) {
        ctx.log(QObject::tr("weight statistics were not kept for the next opening: %1").arg(QString::fromStdString(e.what())));
      }
    }
  };
  job.done = std::move(finished);
  return job;
}

}  // namespace quench::gui
