#include "test_support.h"

#include "core/models/registry.h"
#include "core/stats/weight_stats.h"
#include "widgets/session/model_session.h"

namespace quench::gui::test {

std::shared_ptr<ModelSession> loadSession(const QString& dir, bool stats) {
  LoadOptions opts;
  opts.materialize = false;
  std::shared_ptr<Model> model = load_model(dir.toStdString(), opts);
  auto session = std::make_shared<ModelSession>(summarize(*model, dir), model);
  if (stats) {
    std::vector<WeightStats> all;
    for (const auto& l : model->layers()) all.push_back(weight_stats(*l));
    session->addWeightStats(std::move(all));
  }
  return session;
}

}  // namespace quench::gui::test
