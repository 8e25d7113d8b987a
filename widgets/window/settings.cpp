#include "widgets/window/settings.h"

#include <QDir>
#include <QStandardPaths>

namespace quench::gui {

namespace {
const QString kRecent = QStringLiteral("recentModels");
const QString kDatabase = QStringLiteral("preferences/databasePath");
const QString kCalibration = QStringLiteral("preferences/calibrationSet");
const QString kDevice = QStringLiteral("device");
const QString kGeometry = QStringLiteral("window/geometry");
const QString kState = QStringLiteral("window/state");
}  // namespace

Settings::Settings() : s_(std::make_unique<QSettings>(QStringLiteral("Quench"), QStringLiteral("quench"))) {}

Settings::Settings(const QString& ini_file) : s_(std::make_unique<QSettings>(ini_file, QSettings::IniFormat)) {}

QStringList Settings::recentModels() const { return s_->value(kRecent).toStringList(); }

void Settings::addRecentModel(const QString& dir) {
  QStringList list = recentModels();
  list.removeAll(dir);
  list.prepend(dir);
  while (list.size() > kMaxRecent) list.removeLast();
  s_->setValue(kRecent, list);
}

void Settings::removeRecentModel(const QString& dir) {
  QStringList list = recentModels();
  list.removeAll(dir);
  s_->setValue(kRecent, list);
}

void Settings::clearRecentModels() { s_->remove(kRecent); }

QString Settings::defaultDatabasePath() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)).filePath(QStringLiteral("experiments.sqlite"));
}

QString Settings::databasePath() const { return s_->value(kDatabase, defaultDatabasePath()).toString(); }
void Settings::setDatabasePath(const QString& path) { s_->setValue(kDatabase, path); }

QString Settings::calibrationSet() const { return s_->value(kCalibration).toString(); }
void Settings::setCalibrationSet(const QString& path) { s_->setValue(kCalibration, path); }

QString Settings::device() const { return s_->value(kDevice, QStringLiteral("cpu")).toString(); }
void Settings::setDevice(const QString& device) { s_->setValue(kDevice, device); }

QByteArray Settings::windowGeometry() const { return s_->value(kGeometry).toByteArray(); }
QByteArray Settings::windowState() const { return s_->value(kState).toByteArray(); }
void Settings::setWindow(const QByteArray& geometry, const QByteArray& state) {
  s_->setValue(kGeometry, geometry);
  s_->setValue(kState, state);
}

}  // namespace quench::gui
