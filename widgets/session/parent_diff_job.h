#pragma once
// Model → Compare with Float Model as a job: each layer of the open (compressed) model against
// the same layer of the float model it came from (core/eval/layer_diff.h), one layer at a time,
// cancellable between layers, handed to the session in batches so the table fills in as it runs.
#include <QString>

#include <functional>
#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class ModelSession;

// finished runs on the UI thread once every layer was compared.
Job parentDiffJob(std::shared_ptr<ModelSession> session, const QString& float_dir, std::function<void()> finished = {});

}  // namespace quench::gui
