#pragma once
// Lives on the job thread; runs one Job per run() call and reports back through signals, which
// Qt delivers queued to the receivers on the UI thread.
#include <QObject>

#include <memory>

#include "widgets/jobs/job.h"

namespace quench::gui {

class JobWorker : public QObject {
  Q_OBJECT

 public:
  using QObject::QObject;

 public Q_SLOTS:
  // Called on the job thread when it starts.
  void lowerPriority();
  void run(quint64 id, std::shared_ptr<quench::gui::Job> job, quench::gui::CancelFlag cancel);

 Q_SIGNALS:
  void progressed(quint64 id, qint64 done, qint64 total, const QString& message);
  void logged(quint64 id, const QString& line);
  void posted(quint64 id, quench::gui::UiCallback callback);
  void succeeded(quint64 id);
  void failed(quint64 id, const QString& error);
  void cancelled(quint64 id);
};

}  // namespace quench::gui
