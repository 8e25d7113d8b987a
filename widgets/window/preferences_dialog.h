#pragma once
// Preferences: where the experiment store lives and which data calibration uses by default.
#include <QDialog>

class QLineEdit;

namespace quench::gui {

class Settings;

class PreferencesDialog : public QDialog {
  Q_OBJECT

 public:
  PreferencesDialog(Settings& settings, QWidget* parent = nullptr);

  QLineEdit* databaseEdit() const { return database_; }
  QLineEdit* calibrationEdit() const { return calibration_; }

  // Saves the fields into the settings; refuses (with a message) a calibration set that does not
  // exist or a database whose folder cannot be created.
  void accept() override;

 private:
  Settings& settings_;
  QLineEdit* database_;
  QLineEdit* calibration_;
};

}  // namespace quench::gui
