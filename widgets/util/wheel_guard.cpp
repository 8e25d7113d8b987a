#include "widgets/util/wheel_guard.h"

#include <QAbstractScrollArea>
#include <QAbstractSpinBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QEvent>
#include <QWheelEvent>

namespace quench::gui {

namespace {
class WheelGuard : public QObject {
 public:
  using QObject::QObject;

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (event->type() != QEvent::Wheel && event->type() != QEvent::Polish) return false;
    auto* w = qobject_cast<QWidget*>(watched);
    if (!w || !(qobject_cast<QComboBox*>(w) || qobject_cast<QAbstractSpinBox*>(w))) return false;
    // Their default policy, WheelFocus, hands them the focus on the first wheel turn (before any
    // filter sees the event): with StrongFocus a click or Tab does.
    if (event->type() == QEvent::Polish) {
      if (w->focusPolicy() == Qt::WheelFocus) w->setFocusPolicy(Qt::StrongFocus);
      return false;
    }
    if (w->hasFocus()) return false;
    // Given to the scroll area that holds the box (a re-sent wheel event does not travel up to it
    // by itself); with none, the wheel does nothing here.
    for (QWidget* p = w->parentWidget(); p; p = p->parentWidget())
      if (auto* area = qobject_cast<QAbstractScrollArea*>(p)) {
        const auto* we = static_cast<QWheelEvent*>(event);
        const QPointF at = area->viewport()->mapFromGlobal(we->globalPosition());
        QWheelEvent moved(at, we->globalPosition(), we->pixelDelta(), we->angleDelta(), we->buttons(), we->modifiers(), we->phase(),
                          we->inverted(), we->source());
        QCoreApplication::sendEvent(area->viewport(), &moved);
        break;
      }
    return true;
  }
};
}  // namespace

void installWheelGuard(QCoreApplication& app) {
  // One per application, however often it is asked for (found by name: the class has no meta-object of its own).
  const QString name = QStringLiteral("quenchWheelGuard");
  if (app.findChild<QObject*>(name, Qt::FindDirectChildrenOnly)) return;
  auto* guard = new WheelGuard(&app);
  guard->setObjectName(name);
  app.installEventFilter(guard);
}

}  // namespace quench::gui
