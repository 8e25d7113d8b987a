#include "widgets/window/settings.h"

#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

#include "core/store/store.h"

namespace quench::gui {

namespace {
const QString kRecent = QStringLiteral("recentModels");
const QString kDatabase = QStringLiteral("preferences/databasePath");
const QString kCalibration = QStringLiteral("preferences/calibrationSet");
const QString kEvaluation = QStringLiteral("runs/evaluationSet");
const QString kDevice = QStringLiteral("device");
const QString kGeometry = QStringLiteral("window/geometry");
const QString kState = QStringLiteral("window/state");
}  // namespace

Settings::Settings()
    : s_(std::make_unique<QSettings>(QStringLiteral("Quench"), QStringLiteral("quench"))), default_database_(defaultDatabasePath()) {}

// A store beside the file too, so that such a run records nothing in the user's store either.
Settings::Settings(const QString& ini_file)
    : s_(std::make_unique<QSettings>(ini_file, QSettings::IniFormat)),
      default_database_(QFileInfo(ini_file).absoluteDir().filePath(QStringLiteral("quench.db"))) {}

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

// The store quench-cli records into, so the window lists the CLI's runs and the CLI the window's.
QString Settings::defaultDatabasePath() { return QString::fromStdString(Store::default_path()); }

QString Settings::databasePath() const { return s_->value(kDatabase, default_database_).toString(); }
void Settings::setDatabasePath(const QString& path) { s_->setValue(kDatabase, path); }

namespace {
// Text keeps the key it always had, so existing settings files keep their evaluation text.
QString evaluationKey(const QString& modality) {
  return modality == QStringLiteral("text") ? kEvaluation : kEvaluation + QLatin1Char('.') + modality;
}
}  // namespace

QString Settings::evaluationSet(const QString& modality) const { return s_->value(evaluationKey(modality)).toString(); }
void Settings::setEvaluationSet(const QString& path, const QString& modality) { s_->setValue(evaluationKey(modality), path); }

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
