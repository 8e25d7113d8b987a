#pragma once
// The Help menu: keyboard shortcuts (read from the window's own actions, so the list is never
// out of date) and About with the versions of everything that matters for a bug report.
#include <QObject>
#include <QString>

class QMainWindow;
class QMenu;

namespace quench::gui {

// "Quench 0.1.0 · Qt 6.4.2 · libtorch 1.13.0 · QCustomPlot 2.1.0 · CUDA: …", one per line.
QString versionsText();
// Every action of the window that has a shortcut: "Ctrl+O  Open model…", one per line.
QString shortcutsText(const QMainWindow& window);

void addHelpMenu(QMainWindow& window, QMenu& help);

}  // namespace quench::gui
