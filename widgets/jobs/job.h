#pragma once
// A unit of background work: a function run on the job thread, and what to do on the UI thread
// when it returned. Jobs talk to the UI only through their JobContext (progress, log lines,
// partial results), so the UI thread never waits on them and never pumps events for them.
#include <QMetaType>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>

namespace quench::gui {

class JobContext;

struct Job {
  QString title;                          // "Loading sotu-llama": shown beside the progress bar
  std::function<void(JobContext&)> work;  // job thread; throw quench::Cancelled to stop early
  std::function<void()> done;             // UI thread, only when work returned normally
};

// Runs on the UI thread; used to hand partial results over while the job goes on.
using UiCallback = std::function<void()>;

// Shared by the UI (which sets it) and the job (which polls it between steps).
using CancelFlag = std::shared_ptr<std::atomic<bool>>;

}  // namespace quench::gui

// Declared before any signal uses them, so queued connections can carry them across threads.
Q_DECLARE_METATYPE(std::shared_ptr<quench::gui::Job>)
Q_DECLARE_METATYPE(quench::gui::CancelFlag)
Q_DECLARE_METATYPE(quench::gui::UiCallback)
