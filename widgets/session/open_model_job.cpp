#include "widgets/session/open_model_job.h"

#include <QFileInfo>

#include "core/models/registry.h"
#include "widgets/jobs/job_context.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

Job openModelJob(const QString& dir, std::function<void(std::shared_ptr<ModelSession>)> opened) {
  struct Result {
    std::shared_ptr<Model> model;
    ModelSummary summary;
  };
  auto result = std::make_shared<Result>();
  Job job;
  job.title = QObject::tr("Opening %1").arg(QFileInfo(dir).fileName());
  job.work = [dir, result](JobContext& ctx) {
    ctx.log(QObject::tr("opening %1").arg(dir));
    LoadOptions opts;
    opts.materialize = false;
    result->model = load_model(dir.toStdString(), opts);
    result->summary = summarize(*result->model, dir);
    ctx.log(QObject::tr("%1: %2, %3 parameters, %4 compressible layers")
                .arg(result->summary.name, result->summary.architecture)
                .arg(result->summary.parameters)
                .arg(result->summary.layers.size()));
  };
  job.done = [result, opened = std::move(opened)] {
    opened(std::make_shared<ModelSession>(std::move(result->summary), std::move(result->model)));
  };
  return job;
}

}  // namespace quench::gui
