#pragma once
// The File menu: open a model folder, reopen a recent one, reload, export the compressed model,
// preferences, quit.
#include <QObject>
#include <QString>

class QAction;
class QMenu;
class QWidget;

namespace quench::gui {

class Settings;

class FileActions : public QObject {
  Q_OBJECT

 public:
  FileActions(QWidget& window, Settings& settings, QMenu& file);

  // The folder open now (for Reload and as the Open dialog's starting point).
  void setCurrent(const QString& dir);
  QAction* openAction() const { return open_; }
  QAction* exportAction() const { return export_; }

 Q_SIGNALS:
  void openRequested(const QString& dir);
  // File → Export Compressed Model… (enabled while a model is open).
  void exportRequested();
  // The preferences dialog saved new settings.
  void preferencesChanged();

 private:
  void fillRecent();

  QWidget& window_;
  Settings& settings_;
  QMenu* recent_;
  QAction* open_;
  QAction* reload_;
  QAction* export_;
  QString current_;
};

}  // namespace quench::gui
