#pragma once
// The workbench window. This file and main_window.cpp only assemble it; opening models and
// running their jobs lives in main_window_model.cpp, menus in their *_actions files.
#include <QMainWindow>

#include <atomic>
#include <map>
#include <memory>
#include <optional>

#include "core/store/records.h"
#include "widgets/issues/issues_model.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/runs/run_dialog.h"
#include "widgets/runs/run_settings.h"

class QTabWidget;

namespace quench::gui {

class ActivationPage;
class CompareWindow;
class DeviceSelector;
class ExperimentsPanel;
class ExportDialog;
class RecipeDocument;
class RecipeEditor;
class ParentPage;
class RunPage;
struct RunOutcome;
class FileActions;
class IssuesDock;
class ModelTree;
class SmoothingPage;
class GeneratePanel;
class SensitivityHeatmap;
class LayerBrowser;
class LayerDetailPane;
class LogPane;
class ModelSession;
class Settings;
class SummaryPanel;
class SweepDialog;
class WeightPage;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(Settings& settings, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens a model folder in the background (cancelling whatever runs), then computes its
  // weight statistics. Failures go to an error dialog and the Issues dock.
  void openModel(const QString& dir);
  // Recomputes the weight statistics of the open model on the selected device (opening a model
  // reads them from the cache when an earlier pass kept them).
  void computeWeightStatistics();
  // Compares every layer of the open model with the same layer of the float model in `dir`, in
  // the background: the SQNR column and the "vs Float Model" page fill in as layers are done.
  void compareWithFloatModel(const QString& dir);
  // Selects a layer by Hugging Face name in the table (and so in the detail pane).
  bool showLayer(const QString& name);
  // Shows the issue's layer on the page that holds its finding (an activation issue: its point).
  void showIssue(const Issue& issue);

  const ModelSession* session() const { return session_.get(); }
  JobRunner& jobs() const { return *jobs_; }
  LayerBrowser* layers() const { return browser_; }
  ModelTree* modelTree() const { return model_tree_; }
  GeneratePanel* generatePanel() const { return generate_; }
  SmoothingPage* smoothingPage() const { return smoothing_page_; }
  LayerDetailPane* detail() const { return detail_; }
  WeightPage* weightPage() const { return weight_page_; }
  ActivationPage* activationPage() const { return activation_page_; }
  SummaryPanel* summary() const { return summary_; }
  IssuesModel& issues() const { return *issues_; }
  LogPane* log() const { return log_; }
  DeviceSelector* device() const { return device_; }
  RecipeDocument& recipe() const { return *recipe_; }
  RecipeEditor* recipeEditor() const { return recipe_editor_; }
  ExperimentsPanel* experiments() const { return experiments_; }
  RunPage* runPage() const { return run_page_; }
  ParentPage* parentPage() const { return parent_page_; }
  // Layer detail, Recipe, Experiments.
  QTabWidget* sideTabs() const { return side_tabs_; }

  // Opens the settings dialog of a run (non-modal); accepting it queues the job, which records an
  // experiment. Returns the dialog (nullptr, with a message, when no model is open or the recipe
  // has an error).
  RunDialog* startRun(RunDialog::Kind kind);
  // File → Export: opens the export dialog (non-modal) for the editor's recipe; accepting it queues
  // a compress job that also writes the model. nullptr, with a message, as startRun.
  ExportDialog* startExport();
  // Run → Sweep…: opens the sweep dialog (non-modal) for the open model, with the editor's recipe
  // when it is valid. nullptr, with a message, when no model is open.
  SweepDialog* startSweep();
  // Queues a run with these settings (what accepting the dialog does). The model, device and
  // store are the window's; the rest is `settings`' (their empty name: a default).
  void submitRun(RunDialog::Kind kind, RunSettings settings);
  // The settings the next run dialog starts from.
  const RunSettings& runSettings() const { return run_settings_; }
  // Loads a stored run: a compress run's recipe into the editor, its per-layer results into the
  // layer table and the Before / After page; a calibrate run's activation statistics into the
  // layer table's activation columns and the Activations page; a sensitivity run's damage per
  // layer into the table's Δ column (showSensitivity, also after a sensitivity job).
  void openExperiment(const ExperimentDetail& detail);
  void showSensitivity(const ExperimentDetail& d);
  // The sensitivity run shown last as heatmaps (Run → Sensitivity Heatmap); nullptr, with a
  // message, when none is shown.
  SensitivityHeatmap* showSensitivityHeatmap();
  bool hasSensitivityRun() const { return sensitivity_run_.has_value(); }
  // Opens a window comparing stored runs (nullptr, with a message, when the store refuses).
  CompareWindow* compareExperiments(const QList<int64_t>& ids);
  // Points the Experiments tab at the database the preferences name.
  void useDatabase();

 Q_SIGNALS:
  void sensitivityShown();
  void modelOpened(const QString& dir);
  void weightStatisticsReady();
  void floatComparisonReady();
  // A run job finished and recorded experiment `id` (its results are applied by then).
  void runRecorded(qint64 id, const QString& kind);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void setSession(std::shared_ptr<ModelSession> session);
  void reportOutliers();
  void startWeightStatistics(bool read_cache);
  void reportActivationOutliers();
  void onJobFinished(const QString& title, JobRunner::Outcome outcome, const QString& error);
  void onRunRecorded(const std::shared_ptr<ModelSession>& session, RunOutcome& out);
  void onRecipeChanged();
  void showError(const QString& title, const QString& message);

  Settings& settings_;
  JobRunner* jobs_;
  IssuesModel* issues_;
  std::shared_ptr<ModelSession> session_;
  FileActions* file_actions_ = nullptr;
  SummaryPanel* summary_;
  LayerBrowser* browser_;
  LayerDetailPane* detail_;
  WeightPage* weight_page_;
  ActivationPage* activation_page_;
  LogPane* log_;
  IssuesDock* issues_dock_;
  ModelTree* model_tree_ = nullptr;
  GeneratePanel* generate_ = nullptr;
  quint64 generate_job_ = 0;  // the running generation's job id (0: none)
  void startGeneration(const QString& prompt, int max_new_tokens, double temperature);
  SmoothingPage* smoothing_page_ = nullptr;
  std::optional<ExperimentDetail> sensitivity_run_;  // the one the table's Δ column shows
  // The row the running weight statistics job computes next (the layer on screen).
  std::shared_ptr<std::atomic<int>> wanted_stats_;
  DeviceSelector* device_;
  RecipeDocument* recipe_;
  RecipeEditor* recipe_editor_;
  ExperimentsPanel* experiments_;
  RunPage* run_page_;
  ParentPage* parent_page_;
  QTabWidget* side_tabs_;
  RunSettings run_settings_;
  // Data paths and counts belong to a kind of model: an image set must not pre-fill a text
  // model's dialogs. run_settings_ holds those of data_modality_; the others wait here.
  QString data_modality_;
  std::map<QString, RunSettings> data_by_modality_;
  void switchRunData(const QString& modality);
  // The Preferences' calibration set when it suits a model of this modality ("" otherwise).
  QString defaultCalibration(const QString& modality) const;
  RunSettings export_settings_;  // the last export's target, for the next export dialog
  bool quit_confirmed_ = false;   // the user chose to quit during a job
  bool discard_recipe_confirmed_ = false;  // ... or to quit without saving the recipe (until the next edit)
  nlohmann::json submitted_recipe_;        // the recipe of the compress run in flight
};

}  // namespace quench::gui
