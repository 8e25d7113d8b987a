#pragma once
// The settings of one run before it starts: data files, sample counts, the experiment's name.
// Shown non-modally (open()); accepted() → settings() for the job.
#include <QDialog>

#include "core/store/records.h"
#include "widgets/runs/run_settings.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace quench::gui {

class RunDialog : public QDialog {
  Q_OBJECT

 public:
  using Kind = RunKind;  // a dialog per kind of recorded run

  RunDialog(Kind kind, const RunSettings& settings, QWidget* parent = nullptr);
  RunSettings settings() const;
  Kind kind() const { return kind_; }
  // Run: refused, with the reason shown in the dialog, while a data path given does not name a
  // readable, non-empty file (or a folder where images may be one) — a wrong path is fixed here,
  // not found by the job after the dialog has gone.
  void accept() override;
  QString dataProblem() const;

 private:
  QLineEdit* fileField(const QString& name, const QString& path, bool images);

  Kind kind_;
  RunSettings base_;
  QLineEdit* name_;
  QLineEdit* calibration_ = nullptr;
  QSpinBox* calib_samples_ = nullptr;
  QSpinBox* seq_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QCheckBox* evaluate_ = nullptr;
  QLineEdit* evaluation_ = nullptr;
  QLineEdit* evaluation_labels_ = nullptr;
  QSpinBox* ctx_ = nullptr;
  QSpinBox* eval_windows_ = nullptr;
  QSpinBox* measure_ = nullptr;
  QLineEdit* candidates_ = nullptr;
  QComboBox* metric_ = nullptr;
  QLineEdit* layers_ = nullptr;
  QLineEdit* points_ = nullptr;
  QLabel* problem_ = nullptr;
};

}  // namespace quench::gui
