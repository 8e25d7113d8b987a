#include "widgets/window/help_actions.h"

#include <ATen/Context.h>

#include <QAction>
#include <QMainWindow>
#include <QMenu>
#include <QMessageBox>

#include <algorithm>
#include <vector>

#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

#include "widgets/plots/plot_widget.h"

namespace quench::gui {

QString versionsText() {
  QStringList lines;
  lines << QObject::tr("Quench %1").arg(QStringLiteral(QUENCH_VERSION));
  lines << QObject::tr("Qt %1 (built with %2)").arg(QString::fromLatin1(qVersion()), QStringLiteral(QT_VERSION_STR));
#ifdef TORCH_VERSION
  lines << QObject::tr("libtorch %1").arg(QStringLiteral(TORCH_VERSION));
#else
  lines << QObject::tr("libtorch (version not recorded in its headers)");
#endif
  lines << QObject::tr("QCustomPlot %1").arg(PlotWidget::libraryVersion());
  if (at::hasCUDA())
    lines << QObject::tr("CUDA: %1 device(s) visible").arg(at::getNumGPUs());
  else
    lines << QObject::tr("CUDA: not available in this build or no GPU visible");
#ifdef QUENCH_WITH_CUDA
  lines << QObject::tr("Quench CUDA kernels: built");
#else
  lines << QObject::tr("Quench CUDA kernels: not built");
#endif
  return lines.join(QLatin1Char('\n'));
}

QString shortcutsText(const QMainWindow& window) {
  std::vector<std::pair<QString, QString>> rows;
  for (const QAction* a : window.findChildren<QAction*>()) {
    if (a->shortcut().isEmpty() || a->text().isEmpty()) continue;
    QString text = a->text();
    text.remove(QLatin1Char('&'));
    rows.emplace_back(a->shortcut().toString(QKeySequence::NativeText), text);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  QStringList lines;
  for (const auto& [keys, text] : rows) lines << keys + QStringLiteral("\t") + text;
  return lines.join(QLatin1Char('\n'));
}

void addHelpMenu(QMainWindow& window, QMenu& help) {
  QAction* keys = help.addAction(QObject::tr("&Keyboard Shortcuts"));
  keys->setShortcut(QKeySequence::HelpContents);
  QObject::connect(keys, &QAction::triggered, &window, [&window] {
    auto* box = new QMessageBox(QMessageBox::NoIcon, QObject::tr("Keyboard shortcuts"), shortcutsText(window),
                                QMessageBox::Close, &window);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });
  QAction* about = help.addAction(QObject::tr("&About Quench"));
  about->setMenuRole(QAction::AboutRole);
  QObject::connect(about, &QAction::triggered, &window, [&window] {
    auto* box = new QMessageBox(QMessageBox::Information, QObject::tr("About Quench"),
                                QObject::tr("Quench: a workbench for compressing neural networks.\n\n") + versionsText(),
                                QMessageBox::Close, &window);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
  });
}

}  // namespace quench::gui
