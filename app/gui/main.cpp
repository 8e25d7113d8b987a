// quench: the workbench window. Everything lives in quench_widgets; this only parses the
// command line and shows the window.
#include <cstdio>
#include <exception>
#include <memory>

#include "core/util/error.h"
#include "widgets/window/application.h"
#include "widgets/window/launch.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

int main(int argc, char** argv) {
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
