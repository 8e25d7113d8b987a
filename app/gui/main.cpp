// quench: the workbench window. Everything lives in quench_widgets; this only parses the
// command line and shows the window.
#include <QCoreApplication>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/util/error.h"
#include "core/util/threads.h"
#include "widgets/window/application.h"
#include "widgets/window/launch.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

namespace {
bool asksForHelpOrVersion(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    for (const char* flag : {"-h", "--help", "-v", "--version", "--help-all"})
      if (std::strcmp(argv[i], flag) == 0) return true;
  return false;
}

bool hasDisplay() {
#ifdef __linux__
  return std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY") || std::getenv("QT_QPA_PLATFORM");
#else
  return true;
#endif
}
}  // namespace

int main(int argc, char** argv) {
  // --help and --version need no display: answer them before a GUI application exists.
  if (asksForHelpOrVersion(argc, argv)) {
    QCoreApplication core(argc, argv);
    QCoreApplication::setApplicationVersion(QStringLiteral(QUENCH_VERSION));
    quench::gui::parseLaunchOptions(QCoreApplication::arguments());  // prints and exits
    return 0;
  }
  if (!hasDisplay()) {
    std::fprintf(stderr,
                 "quench: no display (DISPLAY and WAYLAND_DISPLAY are unset). Run it in a graphical session, "
                 "under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --screenshot; quench-cli works without one.\n");
    return 1;
  }
  // QUENCH_THREADS as quench-cli reads it: clamped to the cores, a warning when it was not usable.
  std::string threads_warning;
  quench::configure_threads(0, &threads_warning);
  if (!threads_warning.empty()) std::fprintf(stderr, "quench: warning: %s\n", threads_warning.c_str());
  quench::gui::Application app(argc, argv);
  quench::gui::LaunchOptions opts;
  try {
    opts = quench::gui::parseLaunchOptions(QCoreApplication::arguments());
  } catch (const quench::UsageError& e) {
    std::fprintf(stderr, "quench: %s (see quench --help)\n", e.what());
    return 2;
  }
  auto settings = opts.settings.isEmpty() ? std::make_unique<quench::gui::Settings>()
                                          : std::make_unique<quench::gui::Settings>(opts.settings);
  quench::gui::MainWindow window(*settings);
  window.show();
  quench::gui::launch(window, opts);
  return app.exec();
}
