#pragma once
// Scrolling a form must not change it: a combo box or spin box under the mouse takes the wheel only
// once it has focus (clicked or tabbed to); otherwise the wheel scrolls what holds it, as users
// expect in a scrolling editor. Installed on the application, so every form behaves the same.
class QCoreApplication;

namespace quench::gui {

void installWheelGuard(QCoreApplication& app);

}  // namespace quench::gui
