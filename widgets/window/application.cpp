#include "widgets/window/application.h"

#include <QMessageBox>

#include <exception>

#include "widgets/util/wheel_guard.h"

namespace quench::gui {

Application::Application(int& argc, char** argv) : QApplication(argc, argv) {
  setOrganizationName(QStringLiteral("Quench"));
  setApplicationName(QStringLiteral("quench"));
  setApplicationDisplayName(QStringLiteral("Quench"));
  setApplicationVersion(QStringLiteral(QUENCH_VERSION));
  installWheelGuard(*this);
}

bool Application::notify(QObject* receiver, QEvent* event) {
  QString message;
  try {
    return QApplication::notify(receiver, event);
  } catch (const std::exception& e) {
    message = QString::fromStdString(e.what());
  } catch (...) {
    message = tr("unknown error (a non-standard exception)");
  }
  Q_EMIT uncaughtError(message);
  auto* box = new QMessageBox(QMessageBox::Critical, tr("Quench"), message, QMessageBox::Close, activeWindow());
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
  return false;
}

}  // namespace quench::gui
