#pragma once
// Weight statistics of every compressible layer (core/stats/weight_stats.h) as a job: one layer
// at a time on the chosen device, cancellable between layers, results handed to the session in
// batches so the table fills in while the job runs.
#include <ATen/ATen.h>

#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class ModelSession;

// finished runs on the UI thread once every layer has its statistics.
Job weightStatsJob(std::shared_ptr<ModelSession> session, at::Device device, std::function<void()> finished = {});

}  // namespace quench::gui
