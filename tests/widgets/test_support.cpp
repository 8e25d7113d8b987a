#include "test_support.h"

#include <QTemporaryDir>

#include "core/models/registry.h"
#include "core/stats/weight_stats.h"
#include "widgets/session/model_session.h"

namespace quench::gui::test {

namespace {
// Each test process keeps its caches (weight statistics, GGUF conversions) in a folder of its
// own: never the user's, and nothing from an earlier run skips the work a test looks at.
struct PrivateCache {
  QTemporaryDir dir;
  PrivateCache() { qputenv("XDG_CACHE_HOME", dir.path().toLocal8Bit()); }
} private_cache;
}  // namespace

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
