#pragma once
// Helpers shared by the widget tests: paths of bundled models, a session built the way the
// window builds one, and a settings file of the test's own.
#include <QString>
#include <QTemporaryDir>
#include <QWidget>

#include <memory>
#include <string>

namespace quench::gui {
class ModelSession;
}

namespace quench::gui::test {

inline QString demo(const QString& name) { return QStringLiteral(QUENCH_DEMO "/") + name; }
inline QString fixture(const QString& name) { return QStringLiteral(QUENCH_FIXTURES "/") + name; }

// The child widget of that object name (nullptr when there is none).
template <class W>
W* child(QWidget* parent, const char* name) {
  return parent->findChild<W*>(QString::fromLatin1(name));
}

// Loads a model as the open-model job does (tensors unread) and, with stats, gives every layer
// its weight statistics as the statistics job does.
std::shared_ptr<ModelSession> loadSession(const QString& dir, bool stats);

}  // namespace quench::gui::test
