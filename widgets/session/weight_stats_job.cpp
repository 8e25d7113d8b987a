#include "widgets/session/weight_stats_job.h"

#include <QElapsedTimer>

#include "core/stats/weight_stats.h"
#include "widgets/jobs/job_context.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
// Long enough to batch many small layers into one table update, short enough to look live.
constexpr qint64 kBatchMs = 150;
}  // namespace

Job weightStatsJob(std::shared_ptr<ModelSession> session, at::Device device, std::function<void()> finished) {
  Job job;
  job.title = QObject::tr("Weight statistics on %1").arg(QString::fromStdString(device.str()));
  job.work = [session, device](JobContext& ctx) {
    const Model& model = *session->model();
    const auto n = static_cast<int64_t>(model.layers().size());
    std::vector<WeightStats> batch;
    QElapsedTimer since_post;
    since_post.start();
    auto post = [&] {
      ctx.post([session, b = std::move(batch)]() mutable { session->addWeightStats(std::move(b)); });
      batch.clear();
      since_post.restart();
    };
    int64_t with_outliers = 0;
    for (int64_t i = 0; i < n; ++i) {
      ctx.check_cancelled();
      const Layer& layer = *model.layers()[static_cast<size_t>(i)];
      ctx.progress(i, n, QString::fromStdString(layer.name()));
      // Weights stay as stored until here; only this layer's moves to the device. The weight read
      // is the one weight_stats(const Layer&) reads: a kernel's dense weight when there is one.
      const at::Tensor weight = layer.kernel() ? layer.kernel()->dense_weight() : layer.weight();
      batch.push_back(weight_stats(layer.name(), layer.kind(), weight.to(device)));
      if (!batch.back().outliers.channels.empty()) ++with_outliers;
      if (since_post.elapsed() >= kBatchMs) post();
    }
    if (!batch.empty()) post();
    ctx.progress(n, n);
    ctx.log(QObject::tr("weight statistics: %1 layers, %2 with outlier input channels").arg(n).arg(with_outliers));
  };
  job.done = std::move(finished);
  return job;
}

}  // namespace quench::gui
