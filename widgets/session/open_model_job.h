#pragma once
// Opening a model directory as a job: quench::load_model on the job thread with the tensors left
// as stored and unread (config and safetensors headers only, so even a large checkpoint opens in
// moments), then the summary the views show.
#include <QString>

#include <functional>
#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class ModelSession;

// opened runs on the UI thread with the new session (not parented: the caller owns it).
Job openModelJob(const QString& dir, std::function<void(std::shared_ptr<ModelSession>)> opened);

}  // namespace quench::gui
