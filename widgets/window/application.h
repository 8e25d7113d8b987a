#pragma once
// The QApplication of the workbench. Its notify() is the last boundary for exceptions on the UI
// thread: one that escapes a slot or an event handler is shown to the user, never a crash (an
// exception unwinding through Qt's event loop is undefined behaviour).
#include <QApplication>

namespace quench::gui {

class Application : public QApplication {
  Q_OBJECT

 public:
  Application(int& argc, char** argv);
  bool notify(QObject* receiver, QEvent* event) override;

 Q_SIGNALS:
  // For the window's log; the dialog is shown either way.
  void uncaughtError(const QString& message);
};

}  // namespace quench::gui
