#pragma once
// Everything the window remembers between runs, typed, in one place (QSettings underneath):
// recent models, preferences, the chosen device, the window layout.
#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QStringList>

#include <memory>

namespace quench::gui {

class Settings {
 public:
  // The user's settings (organisation "Quench", application "quench").
  Settings();
  // Settings in an INI file of their own: tests and screenshot runs must not read or change the user's.
  explicit Settings(const QString& ini_file);

  QStringList recentModels() const;
  void addRecentModel(const QString& dir);  // most recent first, no duplicates, at most kMaxRecent
  void removeRecentModel(const QString& dir);
  void clearRecentModels();

  // The experiment store's SQLite file: the one quench-cli uses, unless set; for settings in an
  // INI file of their own, quench.db beside that file.
  QString databasePath() const;
  void setDatabasePath(const QString& path);
  static QString defaultDatabasePath();
  // The text or image data calibration uses unless told otherwise (empty: none chosen).
  QString calibrationSet() const;
  void setCalibrationSet(const QString& path);
  // The data the last run of a model of this modality ("text", "image") was evaluated on: the run
  // dialog offers it again for a model of the same kind, never for the other.
  QString evaluationSet(const QString& modality = QStringLiteral("text")) const;
  void setEvaluationSet(const QString& path, const QString& modality = QStringLiteral("text"));
  // "cpu", "cuda", "cuda:1": what parse_device accepts.
  QString device() const;
  void setDevice(const QString& device);

  QByteArray windowGeometry() const;
  QByteArray windowState() const;
  void setWindow(const QByteArray& geometry, const QByteArray& state);

  static constexpr int kMaxRecent = 10;

 private:
  std::unique_ptr<QSettings> s_;
  QString default_database_;
};

}  // namespace quench::gui
