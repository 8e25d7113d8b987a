#pragma once
// Preferences: where the experiment store lives and which data calibration uses by default.
#include <QDialog>

class QLabel;
class QLineEdit;

namespace quench::gui {

class Settings;

class PreferencesDialog : public QDialog {
  Q_OBJECT

 public:
  PreferencesDialog(Settings& settings, QWidget* parent = nullptr);

  QLineEdit* databaseEdit() const { return database_; }
  QLineEdit* calibrationEdit() const { return calibration_; }
  QString errorText() const;

  // Saves the fields into the settings; refuses (saying why in the dialog) a calibration set that
  // does not exist or a database whose folder cannot be created.
  void accept() override;

 private:
  Settings& settings_;
  QLineEdit* database_;
  QLineEdit* calibration_;
  QLabel* error_;
};

}  // namespace quench::gui
