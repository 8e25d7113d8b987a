#pragma once
// Run → Sweep…: many jobs over the open model (the editor's recipe, schemes, a grid over bits ×
// group size × method, a chunked sensitivity analysis of all layers), run on this machine one
// after another or submitted to Slurm as a job array. The dialog writes the same description
// `quench-cli sweep run` reads, starts quench-cli to run or submit it, then follows every task and
// collects finished ones into the store as they complete, so they appear in the Experiments tab.
#include <QDialog>
#include <QProcess>
#include <nlohmann/json.hpp>

#include <memory>
#include <set>

#include "core/sweep/sweep_tasks.h"
#include "widgets/runs/run_settings.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTimer;

namespace quench::gui {

class SweepDialog : public QDialog {
  Q_OBJECT

 public:
  // settings: the window's run settings (model, data, device, store); editor_recipe: the recipe
  // editor's recipe when it is valid (null otherwise); cli: the quench-cli to run.
  SweepDialog(const RunSettings& settings, const QString& model_name, const nlohmann::json& editor_recipe, QString cli,
              QWidget* parent = nullptr);
  ~SweepDialog() override;

  // The description the form describes (paths absolute; the editor's recipe named as the file
  // `editor_recipe_file`, written by the caller). Throws quench::Error naming the field.
  nlohmann::json description(const QString& editor_recipe_file) const;
  QString sweepFolder() const;
  // Fills the form from a description (as `sweep run` reads it, e.g. a sweep folder's description.json).
  void loadDescription(const nlohmann::json& j);
  // Follows the sweep in `folder` (started earlier, from here or the command line): its form, its
  // tasks' states, and its finished tasks collected into the store.
  void follow(const QString& folder);
  // Checks the description and shows the tasks it makes, without running anything.
  void showPlan();
  // Writes the description into the sweep folder and starts quench-cli sweep run.
  void start();
  // Runs the tasks that failed or were lost again (their earlier attempt is kept).
  void resubmitFailed();
  // Refreshes the task table and collects completed tasks into the store.
  void refresh();
  // The last error shown (a field, quench-cli refusing the description, a collect that failed); "" if none.
  const QString& error() const { return error_; }

 Q_SIGNALS:
  // Experiments were added to the store (the Experiments tab reloads on its own; tests wait on this).
  void collected(int added);
  // Nothing more will change: the runner has exited and no task is queued or running (every task
  // ended, or the run stopped, or the sweep could not start: error() says why).
  void finishedAll();

 private:
  QLineEdit* pathField(QLineEdit* edit, bool folder);
  void runCli(const QStringList& args);
  QStringList schedulerArgs() const;
  void showTaskLog();
  void setError(const QString& message);

  RunSettings base_;
  QString cli_;
  nlohmann::json editor_recipe_;
  std::unique_ptr<SweepDir> dir_;
  QProcess* process_;
  QTimer* timer_;
  int collected_ = 0;
  bool all_done_ = false;
  QString error_;
  std::set<int> completed_seen_;
  std::vector<TaskStatus> statuses_;  // as the last refresh saw them (a selected task's log comes from here)  // completed tasks at the last collect: collect again only when it grows

  QLineEdit* name_;
  QLineEdit* folder_;
  QCheckBox* use_editor_;
  QLineEdit* schemes_;
  QLineEdit* grid_bits_;
  QLineEdit* grid_groups_;
  QCheckBox* grid_rtn_;
  QCheckBox* grid_gptq_;
  QCheckBox* grid_awq_;
  QGroupBox* sensitivity_;
  QLineEdit* sens_setting_;
  QSpinBox* sens_chunks_;
  QDoubleSpinBox* sens_budget_;
  QLineEdit* calibration_;
  QSpinBox* calib_samples_;
  QSpinBox* seq_;
  QLineEdit* evaluation_;
  QSpinBox* ctx_;
  QSpinBox* eval_windows_;
  QComboBox* where_;
  QWidget* slurm_box_;
  QLineEdit* partition_;
  QLineEdit* gres_;
  QLineEdit* time_limit_;
  QPlainTextEdit* setup_;
  QTableWidget* tasks_;
  QPlainTextEdit* output_;
  QLabel* status_;
  QPushButton* plan_button_;
  QPushButton* open_button_;
  QPushButton* start_button_;
  QPushButton* resubmit_button_;
};

// The quench-cli beside this program (installed, or in the build tree), or $QUENCH_CLI; "" if none.
QString findQuenchCli();

}  // namespace quench::gui
