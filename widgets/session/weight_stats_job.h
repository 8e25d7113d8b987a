#pragma once
// Weight statistics of every compressible layer (core/stats/weight_stats.h) as a job: one layer
// at a time on the chosen device, cancellable between layers, results handed to the session in
// batches so the table fills in while the job runs. The layer the user is looking at goes next;
// a finished pass is kept in the weight statistics cache, and reopening the model reads it.
#include <ATen/ATen.h>

#include <atomic>
#include <filesystem>
#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class ModelSession;

struct WeightStatsJobOptions {
  std::filesystem::path cache_dir;  // empty: neither read nor write a cache
  bool read_cache = true;           // false: compute again (and replace the entry)
  // The session row wanted next (the layer shown); −1 for none. Written by the UI thread.
  std::shared_ptr<std::atomic<int>> wanted;
};

// finished runs on the UI thread once every layer has its statistics.
Job weightStatsJob(std::shared_ptr<ModelSession> session, at::Device device, WeightStatsJobOptions opts, std::function<void()> finished = {});

}  // namespace quench::gui
