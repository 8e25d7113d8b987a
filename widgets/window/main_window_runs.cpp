// MainWindow: the recipe being edited, the jobs that record experiments, and what comes back
// from the store (opening a run, comparing runs).
#include <QFileInfo>
#include <QMessageBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>

#include "core/store/store.h"
#include "core/util/error.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/experiments/compare_window.h"
#include "widgets/experiments/experiments_panel.h"
#include "widgets/experiments/sensitivity_heatmap.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/runs/export_dialog.h"
#include "widgets/runs/run_jobs.h"
#include "widgets/runs/sweep_dialog.h"
#include "widgets/session/model_session.h"
#include "widgets/window/device_selector.h"
#include "widgets/window/main_window.h"

#include <algorithm>

#include <QTableView>

#include "widgets/layers/layer_browser.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/window/settings.h"

namespace quench::gui {

namespace {
const QString kRecipeSource = QStringLiteral("recipe");
const QString kRunSource = QStringLiteral("run");
constexpr int kMostSensitiveShown = 3;
}  // namespace

void MainWindow::showError(const QString& title, const QString& message) {
  // Not exec(): a modal loop would stall the window's own updates, and tests would hang on it.
  auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Close, this);
  box->setObjectName(QStringLiteral("runErrorDialog"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::useDatabase() { experiments_->setDatabase(settings_.databasePath()); }

void MainWindow::onRecipeChanged() {
  discard_recipe_confirmed_ = false;  // a new edit: quitting asks again
  issues_->clearSource(kRecipeSource);
  if (!recipe_->error().isEmpty()) issues_->add({Issue::Severity::Error, recipe_->error(), recipe_->errorLayer(), kRecipeSource});
  for (const QString& w : recipe_->warnings()) issues_->add({Issue::Severity::Warning, w, {}, kRecipeSource});
}

RunDialog* MainWindow::startRun(RunDialog::Kind kind) {
  if (!session_) {
    showError(tr("Run"), tr("Open a model first (File → Open Model)."));
    return nullptr;
  }
  if (kind == RunDialog::Kind::Compress && !recipe_->valid()) {
    side_tabs_->setCurrentWidget(recipe_editor_);
    showError(tr("Compress"), tr("The recipe has an error; fix it in the Recipe tab first:\n%1").arg(recipe_->error()));
    return nullptr;
  }
  RunSettings s = run_settings_;
  s.model_dir = session_->summary().dir;
  s.modality = session_->summary().modality;
  s.device = device_->deviceName();
  s.database = settings_.databasePath();
  s.name.clear();
  auto* dialog = new RunDialog(kind, s, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &QDialog::accepted, this, [this, dialog, kind] { submitRun(kind, dialog->settings()); });
  dialog->open();
  return dialog;
}

SweepDialog* MainWindow::startSweep() {
  if (!session_) {
    showError(tr("Sweep"), tr("Open a model first (File → Open Model)."));
    return nullptr;
  }
  RunSettings s = run_settings_;
  s.model_dir = session_->summary().dir;
  s.device = device_->deviceName();
  s.database = settings_.databasePath();
  auto* dialog = new SweepDialog(s, session_->summary().name, recipe_->valid() ? recipe_->json() : nlohmann::json(), findQuenchCli(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  dialog->open();
  return dialog;
}

ExportDialog* MainWindow::startExport() {
  if (!session_) {
    showError(tr("Export"), tr("Open a model first (File → Open Model)."));
    return nullptr;
  }
  if (!recipe_->valid()) {
    side_tabs_->setCurrentWidget(recipe_editor_);
    showError(tr("Export"), tr("The recipe has an error; fix it in the Recipe tab first:\n%1").arg(recipe_->error()));
    return nullptr;
  }
  RunSettings s = run_settings_;
  s.model_dir = session_->summary().dir;
  s.device = device_->deviceName();
  s.database = settings_.databasePath();
  s.name.clear();
  // The last export's target, when it was of this model.
  if (export_settings_.model_dir == s.model_dir) {
    s.export_format = export_settings_.export_format;
    s.export_path = export_settings_.export_path;
    s.export_float_type = export_settings_.export_float_type;
  }
  auto* dialog = new ExportDialog(s, session_->model(), recipe_->json(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  // The check follows the recipe editor; another model makes the dialog's model stale.
  connect(recipe_, &RecipeDocument::changed, dialog, [this, dialog] { dialog->setRecipe(recipe_->json()); });
  connect(this, &MainWindow::modelOpened, dialog, &QDialog::reject);
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    const RunSettings chosen = dialog->settings();
    export_settings_ = chosen;
    submitRun(RunDialog::Kind::Compress, chosen);
  });
  dialog->open();
  return dialog;
}

void MainWindow::submitRun(RunDialog::Kind kind, RunSettings chosen) {
  if (!session_) return;
  chosen.model_dir = session_->summary().dir;
  chosen.device = device_->deviceName();
  chosen.database = settings_.databasePath();
  // Remembered for the next run, all but the name.
  run_settings_ = chosen;
  run_settings_.name.clear();
  // An export is asked for each time (File → Export), never inherited by the next run.
  run_settings_.export_path.clear();
  run_settings_.export_format.clear();
  run_settings_.export_float_type.clear();
  run_settings_.export_force = false;
  settings_.setEvaluationSet(chosen.evaluation, session_->summary().modality);
  std::shared_ptr<ModelSession> session = session_;
  auto done = [this, session](std::shared_ptr<RunOutcome> out) { onRunRecorded(session, *out); };
  issues_->clearSource(kRunSource);
  switch (kind) {
    case RunDialog::Kind::Compress:
      jobs_->submit(compressJob(chosen, recipe_->json(), done));
      submitted_recipe_ = recipe_->json();  // kept once the run is recorded (a failed run keeps nothing)
      break;
    case RunDialog::Kind::Evaluate: jobs_->submit(evaluateJob(chosen, done)); break;
    case RunDialog::Kind::Sensitivity: jobs_->submit(sensitivityJob(chosen, done)); break;
    case RunDialog::Kind::Calibrate: jobs_->submit(calibrateJob(chosen, done)); break;
  }
}

void MainWindow::onRunRecorded(const std::shared_ptr<ModelSession>& session, RunOutcome& out) {
  // The outcome is this call's to keep: its per-layer results and activation statistics (arrays
  // included) are moved, not copied, into the session — a copy alone held the UI thread for tens
  // of milliseconds after a calibration of every point.
  for (const QString& w : out.warnings) issues_->add({Issue::Severity::Warning, w, {}, kRunSource});
  if (session == session_) {
    if (out.kind == RunKind::Compress) {
      session_->setRun({out.experiment_id, out.name}, std::move(out.layers), std::move(out.after), std::move(out.errors));
      if (recipe_->json() == submitted_recipe_) recipe_->markKept();  // the store holds it now
    } else if (out.kind == RunKind::Calibrate) {
      session_->setActivations({out.experiment_id, out.name}, std::move(out.activations));
    } else if (out.kind == RunKind::Sensitivity && experiments_->store()) {
      showSensitivity(experiments_->store()->get(out.experiment_id));
    }
  }
  // The experiments list rereads the store in the next turn of the event loop, so that the
  // window repaints in between; runRecorded follows once the list shows the new run.
  const int64_t id = out.experiment_id;
  const QString kind = QString::fromLatin1(run_kind_name(out.kind)), name = out.name;
  QTimer::singleShot(0, this, [this, id, kind, name] {
    experiments_->reload();
    experiments_->selectId(id);
    statusBar()->showMessage(tr("Recorded %1 run #%2 (%3)").arg(kind).arg(id).arg(name), 8000);
    Q_EMIT runRecorded(id, kind);
  });
}

// A sensitivity run on the open model: its damage per layer in the table's Δ column (sortable,
// coloured, named after the metric and the candidate), and the worst units in the Issues dock.
void MainWindow::showSensitivity(const ExperimentDetail& d) {
  if (!session_) return;
  sensitivity_run_ = d;
  Q_EMIT sensitivityShown();
  const QString metric = d.recipe.is_object() && d.recipe.contains("metric") && d.recipe["metric"].is_string()
                             ? QString::fromStdString(d.recipe["metric"].get<std::string>())
                             : tr("metric");
  session_->setSensitivity({d.summary.id, QString::fromStdString(d.summary.name)}, metric, d.layers);
  std::vector<std::pair<int, const LayerResult*>> ranked;
  for (const LayerResult& u : d.layers)
    if (u.settings.is_object() && u.settings.contains("rank") && u.settings["rank"].is_number_integer())
      ranked.emplace_back(u.settings["rank"].get<int>(), &u);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < kMostSensitiveShown; ++i) {
    const LayerResult& u = *ranked[i].second;
    // A unit is a layer or a block; a block's issue points at its first layer.
    std::string first = u.layer;
    if (u.settings.contains("layers") && u.settings["layers"].is_array() && !u.settings["layers"].empty() &&
        u.settings["layers"][0].is_string())
      first = u.settings["layers"][0].get<std::string>();
    const int row = session_->rowOf(first);
    const ModelSession::LayerSensitivity* ls = row >= 0 ? session_->sensitivity(row) : nullptr;
    if (!ls) continue;  // a row the session could not read (or a unit of another model)
    const double delta = ls->delta;
    issues_->add({Issue::Severity::Info,
                  tr("sensitivity #%1 of %2 (run #%3): %4 %5%6 when compressed alone with %7")
                      .arg(ranked[i].first)
                      .arg(ranked.size())
                      .arg(d.summary.id)
                      .arg(session_->sensitivityDeltaName(), delta > 0 ? QStringLiteral("+") : QString())
                      .arg(delta, 0, 'g', 4)
                      .arg(session_->sensitivityCandidate()),
                  QString::fromStdString(first), kRunSource});
  }
  browser_->view()->sortByColumn(LayerTableModel::SensitivityColumn, Qt::DescendingOrder);
}

SensitivityHeatmap* MainWindow::showSensitivityHeatmap() {
  if (!sensitivity_run_) {
    showError(tr("Sensitivity Heatmap"), tr("No sensitivity run is shown: run Run → Layer Sensitivity, or open a sensitivity run in the Experiments tab."));
    return nullptr;
  }
  try {
    auto* heatmap = new SensitivityHeatmap(*sensitivity_run_, this);
    connect(heatmap, &SensitivityHeatmap::layerActivated, this, [this](const QString& layer) {
      if (showLayer(layer)) side_tabs_->setCurrentWidget(detail_);
    });
    connect(heatmap, &SensitivityHeatmap::recipeSuggested, this, [this](const nlohmann::json& recipe, const QString& description) {
      recipe_->change(recipe, tr("Suggested recipe: %1").arg(description));
      side_tabs_->setCurrentWidget(recipe_editor_);
    });
    heatmap->show();
    return heatmap;
  } catch (const std::exception& e) {
    showError(tr("Sensitivity Heatmap"), QString::fromStdString(e.what()));
    return nullptr;
  }
}

void MainWindow::openExperiment(const ExperimentDetail& d) {
  const QString name = QString::fromStdString(d.summary.name);
  const bool compress = d.summary.kind == RunKind::Compress;
  if (compress) {
    try {
      recipe_->change(Recipe::parse(d.recipe, "experiment #" + std::to_string(d.summary.id)).json, tr("Open the recipe of run #%1").arg(d.summary.id));
      recipe_->markKept();  // stored with the run
    } catch (const std::exception& e) {
      showError(tr("Open Run"), tr("Run #%1's recipe cannot be used: %2").arg(d.summary.id).arg(QString::fromStdString(e.what())));
    }
  }
  const bool same_model = session_ && d.model &&
                          QFileInfo(QString::fromStdString(d.model->path)).canonicalFilePath() == QFileInfo(session_->summary().dir).canonicalFilePath();
  if (session_ && !d.layers.empty() && d.summary.kind != RunKind::Sensitivity) {
    if (!same_model)
      issues_->add({Issue::Severity::Warning,
                    tr("run #%1 was recorded on %2, not on the open model: its layers are matched by name")
                        .arg(d.summary.id)
                        .arg(d.model ? QString::fromStdString(d.model->path) : tr("an unknown model")),
                    {}, kRunSource});
    session_->setRun({d.summary.id, name}, d.layers, {});
  }
  if (session_ && d.summary.kind == RunKind::Sensitivity) showSensitivity(d);
  if (session_ && d.summary.kind == RunKind::Calibrate && experiments_->store()) {
    // The list hands over summaries only; the plots need the stored arrays.
    try {
      ExperimentDetail full = experiments_->store()->get(d.summary.id, true);
      if (!same_model)
        issues_->add({Issue::Severity::Warning,
                      tr("calibration #%1 was recorded on %2, not on the open model: its points are matched by name")
                          .arg(d.summary.id)
                          .arg(d.model ? QString::fromStdString(d.model->path) : tr("an unknown model")),
                      {}, kRunSource});
      session_->setActivations({d.summary.id, name}, std::move(full.stats));
    } catch (const std::exception& e) {
      showError(tr("Open Run"), tr("Run #%1's statistics cannot be read: %2").arg(d.summary.id).arg(QString::fromStdString(e.what())));
    }
  }
  statusBar()->showMessage(compress ? tr("Opened run #%1 %2: its recipe is in the Recipe tab, its errors in the layer table").arg(d.summary.id).arg(name)
                                    : tr("Opened run #%1 %2 (%3)").arg(d.summary.id).arg(name, QString::fromLatin1(run_kind_name(d.summary.kind))),
                           8000);
}

CompareWindow* MainWindow::compareExperiments(const QList<int64_t>& ids) {
  if (!experiments_->store()) {
    showError(tr("Compare"), tr("No experiment store is open (File → Preferences)."));
    return nullptr;
  }
  try {
    auto* w = new CompareWindow(*experiments_->store(), ids, this);
    w->show();
    return w;
  } catch (const std::exception& e) {
    showError(tr("Compare"), QString::fromStdString(e.what()));
    return nullptr;
  }
}

}  // namespace quench::gui
