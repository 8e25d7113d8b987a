#pragma once
// File → Export Compressed Model…: where and how to write the model the current recipe compresses
// (GGUF for llama.cpp, compressed-tensors for vLLM, a float safetensors checkpoint), and the
// calibration (and optional evaluation) the compress run needs. A check line resolves the recipe
// against the open model as quench-cli compress --format does, says in red why the format cannot
// hold it (or why the path cannot take it), and keeps Export disabled until both are fine.
// Shown non-modally (open()); accepted() → settings() for compressJob.
#include <QDialog>

#include <memory>

#include <nlohmann/json.hpp>

#include "widgets/runs/run_settings.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace quench {
class Model;
struct ResolvedRecipe;
}

namespace quench::gui {

class ExportDialog : public QDialog {
  Q_OBJECT

 public:
  ExportDialog(const RunSettings& settings, std::shared_ptr<const Model> model, const nlohmann::json& recipe, QWidget* parent = nullptr);

  // The run's settings, export target included (export_format set).
  RunSettings settings() const;
  // The recipe the check resolves (the editor's, as it changes).
  void setRecipe(const nlohmann::json& recipe);
  // What the check line says now: "" when the export can start.
  QString refusal() const { return refusal_; }
  QPushButton* exportButton() const { return ok_; }

 private:
  void onFormatChanged();
  void check();
  QString format() const;

  RunSettings base_;
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const ResolvedRecipe> plan_;  // null when the recipe does not resolve
  QString recipe_error_;
  QString recipe_name_;
  QString suggested_;  // the path last filled in for the user (replaced when the format changes)
  QString refusal_;

  QComboBox* format_;
  QLineEdit* path_;
  QPushButton* browse_;
  QComboBox* float_type_;
  QCheckBox* force_;
  QLineEdit* name_;
  QLineEdit* calibration_;
  QSpinBox* calib_samples_;
  QSpinBox* seq_;
  QSpinBox* seed_;
  QSpinBox* measure_;
  QCheckBox* evaluate_;
  QLineEdit* evaluation_;
  QSpinBox* ctx_;
  QSpinBox* eval_windows_;
  QLabel* check_;
  QPushButton* ok_;
};

}  // namespace quench::gui
