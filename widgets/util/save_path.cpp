#include "widgets/util/save_path.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

namespace quench::gui {

namespace {
QString& lastFolder() {
  static QString folder;  // the UI thread's only
  return folder;
}
}  // namespace

QString suggestedSavePath(const QString& file_name) {
  QString folder = lastFolder();
  if (folder.isEmpty() || !QFileInfo(folder).isDir()) {
    folder = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    if (folder.isEmpty() || !QFileInfo(folder).isDir()) folder = QDir::homePath();
  }
  return QDir(folder).filePath(file_name);
}

void rememberSavePath(const QString& chosen) {
  if (!chosen.isEmpty()) lastFolder() = QFileInfo(chosen).absolutePath();
}

}  // namespace quench::gui
