#include "widgets/session/parent_diff_job.h"

#include <QElapsedTimer>
#include <QFileInfo>

#include <cmath>

#include "core/eval/layer_diff.h"
#include "core/models/registry.h"
#include "core/stats/weight_stats.h"
#include "core/util/error.h"
#include "widgets/jobs/job_context.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
constexpr qint64 kBatchMs = 150;  // as the weight statistics job: many small layers per table update
constexpr int64_t kWorstChannels = 5;
}  // namespace

Job parentDiffJob(std::shared_ptr<ModelSession> session, const QString& float_dir, std::function<void()> finished) {
  Job job;
  job.title = QObject::tr("Comparing with %1").arg(QFileInfo(float_dir).fileName());
  job.work = [session, float_dir](JobContext& ctx) {
    const Model& model = *session->model();
    const std::string dir = float_dir.toStdString();
    ctx.log(QObject::tr("comparing %1 with the float model %2").arg(session->summary().dir, float_dir));
    LoadOptions opts;
    opts.materialize = false;  // tensors stay mapped: one layer is read at a time
    const std::unique_ptr<Model> parent = load_model(dir, opts);
    const StoredTypes types(session->summary().dir.toStdString(), model);
    ctx.post([session, float_dir] { session->startParent(float_dir); });

    const auto n = static_cast<int64_t>(model.layers().size());
    std::vector<ModelSession::ParentLayer> batch;
    QElapsedTimer since_post;
    since_post.start();
    auto post = [&] {
      ctx.post([session, b = std::move(batch)]() mutable { session->addParentLayers(std::move(b)); });
      batch.clear();
      since_post.restart();
    };
    int64_t exact = 0;
    std::string worst;
    double worst_db = std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      ctx.check_cancelled();
      const Layer& layer = *model.layers()[static_cast<size_t>(i)];
      ctx.progress(i, n, QString::fromStdString(layer.name()));
      const Layer* original = parent->find_layer(layer.name());
      QUENCH_CHECK(original, dir, ": has no layer ", layer.name(), ", which ", session->summary().dir.toStdString(),
                   " has; choose the float model this one was compressed from");
      ModelSession::ParentLayer p{diff_layer(*original, layer, kWorstChannels), weight_stats(layer.name(), layer.kind(), original->weight())};
      p.diff.type = types.of(layer.name());
      if (p.diff.exact()) ++exact;
      else if (p.diff.sqnr_db() < worst_db) {
        worst_db = p.diff.sqnr_db();
        worst = layer.name();
      }
      batch.push_back(std::move(p));
      if (since_post.elapsed() >= kBatchMs) post();
    }
    if (!batch.empty()) post();
    ctx.progress(n, n);
    QString line = QObject::tr("compared with %1: %2 layers, %3 identical").arg(float_dir).arg(n).arg(exact);
    if (!worst.empty()) line += QObject::tr("; lowest weight SQNR %1 dB at %2").arg(worst_db, 0, 'f', 2).arg(QString::fromStdString(worst));
    ctx.log(line);
  };
  job.done = std::move(finished);
  return job;
}

}  // namespace quench::gui
