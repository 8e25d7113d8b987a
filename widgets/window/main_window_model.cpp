// MainWindow: opening models (menu, recent list, drag and drop, command line) and the jobs that
// run on them, with their outcomes reported in the log, the Issues dock and error dialogs.
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QStatusBar>

#include "core/store/metrics.h"
#include "core/util/cache_dir.h"
#include "widgets/detail/activation_page.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/detail/parent_page.h"
#include "widgets/detail/weight_page.h"
#include "widgets/experiments/experiments_panel.h"
#include "widgets/experiments/sensitivity_heatmap.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/jobs/log_pane.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/session/model_session.h"
#include "widgets/session/open_model_job.h"
#include "widgets/session/parent_diff_job.h"
#include "widgets/session/weight_stats_job.h"
#include "widgets/window/device_selector.h"
#include "widgets/window/file_actions.h"
#include "widgets/window/main_window.h"

#include "widgets/generate/generate_panel.h"
#include "widgets/window/settings.h"
#include "widgets/window/summary_panel.h"

namespace quench::gui {

namespace {
// Issues are cleared by source when their job runs again.
const QString kStatsSource = QStringLiteral("weight statistics");
const QString kActivationSource = QStringLiteral("activation statistics");

// A dropped folder, or the folder of a dropped file (people drop config.json as often as its folder).
QString droppedModelDir(const QMimeData* mime) {
  if (!mime || !mime->hasUrls() || mime->urls().size() != 1 || !mime->urls().first().isLocalFile()) return {};
  const QFileInfo info(mime->urls().first().toLocalFile());
  if (info.isDir()) return info.absoluteFilePath();
  if (info.isFile()) return info.absolutePath();
  return {};
}
}  // namespace

void MainWindow::openModel(const QString& dir) {
  jobs_->cancelAll();
  jobs_->submit(openModelJob(dir, [this](std::shared_ptr<ModelSession> s) { setSession(std::move(s)); }));
}

QString MainWindow::defaultCalibration(const QString& modality) const {
  const QString path = settings_.calibrationSet();
  if (path.isEmpty()) return path;
  // Image sets are IDX files (optionally gzipped) or folders of class folders; anything else is text.
  const QFileInfo f(path);
  const bool image = f.isDir() || path.contains(QStringLiteral("-ubyte")) || f.suffix() == QStringLiteral("idx");
  return image == (modality == QStringLiteral("image")) ? path : QString();
}

void MainWindow::switchRunData(const QString& modality) {
  if (modality == data_modality_) return;
  if (!data_modality_.isEmpty()) data_by_modality_[data_modality_] = run_settings_;
  RunSettings next;
  if (auto it = data_by_modality_.find(modality); it != data_by_modality_.end()) {
    next = it->second;
  } else {
    next.calibration = defaultCalibration(modality);
    next.evaluation = settings_.evaluationSet(modality);
    if (modality == QStringLiteral("image")) next.metric = QString::fromLatin1(metric_names::kTop1);
  }
  // Where and into what runs go are the window's, whatever the model.
  next.model_dir = run_settings_.model_dir;
  next.device = run_settings_.device;
  next.database = run_settings_.database;
  run_settings_ = next;
  data_modality_ = modality;
}

void MainWindow::setSession(std::shared_ptr<ModelSession> session) {
  const ModelSummary& s = session->summary();
  switchRunData(s.modality);
  browser_->setSession(session.get());
  detail_->setSession(session.get());
  recipe_->setModel(session->model());
  experiments_->setModelPath(s.dir);
  summary_->setSummary(&s);
  session_ = std::move(session);  // before any selection: the views' signals name rows of this model
  sensitivity_run_.reset();        // its layers were another model's, and so are the open heatmaps'
  for (SensitivityHeatmap* h : findChildren<SensitivityHeatmap*>()) h->close();
  Q_EMIT sensitivityShown();
  // Something to look at straight away: the first layer's plots fill in as statistics arrive.
  browser_->selectTop();
  issues_->clear();
  // Whatever shows a calibration on this model (a calibrate job, an opened run) lists its outliers.
  connect(session_.get(), &ModelSession::activationsChanged, this, &MainWindow::reportActivationOutliers);
  if (session_->model()->modality() != Modality::Text) generate_->setModelReady(false, tr("%1 classifies images: there is no text to generate.").arg(s.name));
  else if (!session_->model()->can_decode())
    generate_->setModelReady(false, tr("%1 has no decoding cache in Quench yet.").arg(QString::fromStdString(session_->model()->architecture())));
  else generate_->setModelReady(true);
  settings_.addRecentModel(s.dir);
  file_actions_->setCurrent(s.dir);
  setWindowTitle(tr("%1 — Quench").arg(s.name));
  statusBar()->showMessage(tr("Opened %1: %2 compressible layers").arg(s.dir).arg(s.layers.size()), 8000);
  Q_EMIT modelOpened(s.dir);
  startWeightStatistics(true);
}

void MainWindow::computeWeightStatistics() { startWeightStatistics(false); }

void MainWindow::startWeightStatistics(bool read_cache) {
  if (!session_) return;
  at::Device device = at::kCPU;
  try {
    device = device_->device();
  } catch (const std::exception& e) {
    issues_->add({Issue::Severity::Error, QString::fromStdString(e.what()), {}, kStatsSource});
    return;
  }
  issues_->clearSource(kStatsSource);
  std::shared_ptr<ModelSession> session = session_;
  WeightStatsJobOptions opts;
  opts.cache_dir = user_cache_dir("weight-stats");
  opts.read_cache = read_cache;
  opts.wanted = wanted_stats_ = std::make_shared<std::atomic<int>>(browser_->currentRow());  // the layer on screen first
  jobs_->submit(weightStatsJob(session, device, opts, [this, session] {
    if (session != session_) return;  // another model was opened meanwhile
    reportOutliers();
    Q_EMIT weightStatisticsReady();
  }));
}

void MainWindow::compareWithFloatModel(const QString& dir) {
  if (!session_) return;
  std::shared_ptr<ModelSession> session = session_;
  jobs_->submit(parentDiffJob(session, dir, [this, session] {
    if (session != session_) return;
    // The page is where the answer is: show it for the selected layer.
    detail_->showPage(parent_page_);
    Q_EMIT floatComparisonReady();
  }));
}

void MainWindow::reportOutliers() {
  for (int row = 0; row < session_->layerCount(); ++row) {
    const WeightStats* s = session_->weightStats(row);
    if (!s || s->outliers.channels.empty()) continue;
    const auto& top = s->outliers.channels.front();
    const QString message =
        s->outliers.channels.size() == 1
            ? tr("1 outlier input channel: channel %1, %2× the median channel").arg(top.channel).arg(top.ratio, 0, 'f', 1)
            : tr("%1 outlier input channels; the largest, channel %2, is %3× the median channel")
                  .arg(s->outliers.channels.size())
                  .arg(top.channel)
                  .arg(top.ratio, 0, 'f', 1);
    issues_->add({Issue::Severity::Info, message, QString::fromStdString(s->layer), kStatsSource, Issue::Page::Weights});
  }
}

void MainWindow::reportActivationOutliers() {
  issues_->clearSource(kActivationSource);
  if (!session_) return;
  const auto& run = session_->activationRun();
  for (const LayerStats& p : session_->points()) {
    if (!p.outliers || *p.outliers <= 0) continue;
    // The largest outlier channel and its ratio to the median channel, from the recorded arrays.
    const auto channels = p.arrays.find("outlier_channels");
    const auto absmax = p.arrays.find("channel_absmax");
    const double median = p.extra.value("median_channel_absmax", 0.0);
    QString largest;
    if (channels != p.arrays.end() && absmax != p.arrays.end() && median > 0) {
      const std::vector<double> ch = channels->second.to_doubles(), am = absmax->second.to_doubles();
      int64_t top = -1;
      for (double c : ch) {
        const auto i = static_cast<int64_t>(c);
        if (i >= 0 && i < static_cast<int64_t>(am.size()) && (top < 0 || am[static_cast<size_t>(i)] > am[static_cast<size_t>(top)])) top = i;
      }
      if (top >= 0) largest = tr("; the largest, channel %1, is %2× the median channel").arg(top).arg(am[static_cast<size_t>(top)] / median, 0, 'f', 1);
    }
    const int row = session_->rowOfPoint(p);
    issues_->add({Issue::Severity::Info,
                  (*p.outliers == 1 ? tr("1 outlier activation channel at %2%3 (calibration #%4)")
                                    : tr("%1 outlier activation channels at %2%3 (calibration #%4)").arg(*p.outliers))
                      .arg(QString::fromStdString(p.point), largest)
                      .arg(run.experiment_id),
                  row >= 0 ? QString::fromStdString(session_->layer(row).name) : QString(), kActivationSource,
                  Issue::Page::Activations, QString::fromStdString(p.point)});
  }
}

bool MainWindow::showLayer(const QString& name) { return browser_->selectLayer(name); }

void MainWindow::showIssue(const Issue& issue) {
  if (!showLayer(issue.layer)) return;
  switch (issue.page) {
    case Issue::Page::Layer: break;
    case Issue::Page::Weights: detail_->showPage(weight_page_); break;
    case Issue::Page::Activations:
      detail_->showPage(activation_page_);
      if (!issue.point.isEmpty()) activation_page_->selectPointNamed(issue.point);
      break;
  }
}

void MainWindow::onJobFinished(const QString& title, JobRunner::Outcome outcome, const QString& error) {
  // A job that now succeeds takes its earlier failure's error out of the Issues dock.
  if (outcome == JobRunner::Outcome::Succeeded) issues_->clearSource(title);
  if (outcome != JobRunner::Outcome::Failed) return;
  issues_->add({Issue::Severity::Error, tr("%1: %2").arg(title, error), {}, title});
  issues_dock_->raise();
  // Not exec(): a modal loop would stall the window's own updates, and tests would hang on it.
  auto* box = new QMessageBox(QMessageBox::Critical, title, error, QMessageBox::Close, this);
  box->setObjectName(QStringLiteral("jobErrorDialog"));
  box->setAttribute(Qt::WA_DeleteOnClose);
  box->open();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (!droppedModelDir(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  const QString dir = droppedModelDir(event->mimeData());
  if (dir.isEmpty()) return;
  event->acceptProposedAction();
  openModel(dir);
}

namespace {
// A question before quitting, with Keep Working as the safe answer. Not modal: a modal loop would
// stall the window's own updates (a job's progress), and tests would hang on it. nullptr while
// the same question is already shown.
QMessageBox* quitQuestion(QWidget* window, const QString& name, const QString& text) {
  if (window->findChild<QMessageBox*>(name)) return nullptr;
  auto* box = new QMessageBox(QMessageBox::Question, QObject::tr("Quit Quench"), text, QMessageBox::NoButton, window);
  box->setObjectName(name);
  box->setAttribute(Qt::WA_DeleteOnClose);
  return box;
}
}  // namespace

void MainWindow::closeEvent(QCloseEvent* event) {
  // A recipe edited since it was last saved, loaded or run would be lost: ask, offering to save it.
  if (recipe_->unsaved() && !discard_recipe_confirmed_) {
    event->ignore();
    QMessageBox* box = quitQuestion(this, QStringLiteral("quitWithUnsavedRecipe"),
                                    tr("The recipe has changes that are neither saved nor recorded by a run. Save it before quitting?"));
    if (!box) return;
    QPushButton* save = box->addButton(tr("Save…"), QMessageBox::AcceptRole);
    save->setObjectName(QStringLiteral("saveRecipeAndQuit"));
    QPushButton* discard = box->addButton(tr("Quit Without Saving"), QMessageBox::DestructiveRole);
    discard->setObjectName(QStringLiteral("discardRecipe"));
    box->addButton(tr("Keep Working"), QMessageBox::RejectRole);
    connect(save, &QPushButton::clicked, this, [this] {
      recipeEditor()->saveFile();
      if (!recipe_->unsaved()) close();  // saved (a cancelled file dialog keeps the window)
    });
    connect(discard, &QPushButton::clicked, this, [this] {
      discard_recipe_confirmed_ = true;
      close();
    });
    box->open();
    return;
  }
  // Closing during a job asks first (a run of hours is easy to lose).
  if (jobs_->busy() && !quit_confirmed_) {
    event->ignore();
    QMessageBox* box = quitQuestion(this, QStringLiteral("quitDuringJob"),
                                    tr("A job is running. Quit and cancel it? A run being recorded is kept as cancelled."));
    if (!box) return;
    QPushButton* quit = box->addButton(tr("Cancel the Job and Quit"), QMessageBox::DestructiveRole);
    quit->setObjectName(QStringLiteral("quitAnyway"));
    box->addButton(tr("Keep Working"), QMessageBox::RejectRole);
    connect(quit, &QPushButton::clicked, this, [this] {
      quit_confirmed_ = true;
      jobs_->cancelAll();
      close();
    });
    box->open();
    return;
  }
  settings_.setWindow(saveGeometry(), saveState());
  QMainWindow::closeEvent(event);
}

}  // namespace quench::gui
