#pragma once
// Generation as a job: loads its own copy of the model (as stored on disk) on the chosen device
// and its tokenizer, continues the prompt with core/runs/generate, and hands the text to the UI
// thread piece by piece. Cancel stops it between tokens.
#include <QString>

#include <functional>

#include "widgets/jobs/job.h"

namespace quench::gui {

struct GenerateRequest {
  QString model_dir;
  QString device = QStringLiteral("cpu");
  QString prompt;
  int max_new_tokens = 64;
  double temperature = 0;
  quint64 seed = 0;
};

// on_text and done run on the UI thread: each new piece of text, then the one-line summary
// (tokens, prefill and decode tokens/s).
Job generateJob(const GenerateRequest& r, std::function<void(const QString&)> on_text, std::function<void(const QString&)> done);

}  // namespace quench::gui
