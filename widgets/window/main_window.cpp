#include "widgets/window/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolBar>
#include <QVBoxLayout>

#include "widgets/detail/activation_page.h"
#include "widgets/detail/layer_detail_pane.h"
#include "widgets/detail/parent_page.h"
#include "widgets/detail/run_page.h"
#include "widgets/detail/smoothing_page.h"
#include "widgets/generate/generate_job.h"
#include "widgets/generate/generate_panel.h"
#include "widgets/detail/weight_page.h"
#include "widgets/experiments/experiments_panel.h"
#include "widgets/issues/issues_dock.h"
#include "widgets/issues/issues_model.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/jobs/job_status_widget.h"
#include "widgets/jobs/log_pane.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/model_tree.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/session/model_session.h"
#include "widgets/window/device_selector.h"
#include "widgets/window/file_actions.h"
#include "widgets/window/help_actions.h"
#include "widgets/window/run_actions.h"
#include "widgets/window/settings.h"
#include "widgets/window/summary_panel.h"

namespace quench::gui {

MainWindow::MainWindow(Settings& settings, QWidget* parent)
    : QMainWindow(parent), settings_(settings), jobs_(new JobRunner(this)), issues_(new IssuesModel(this)),
      summary_(new SummaryPanel(this)), browser_(new LayerBrowser(this)), detail_(new LayerDetailPane(this)),
      weight_page_(new WeightPage(this)), activation_page_(new ActivationPage(this)), log_(new LogPane(this)), issues_dock_(new IssuesDock(*issues_, this)),
      device_(new DeviceSelector(settings.device(), this)), recipe_(new RecipeDocument(this)),
      recipe_editor_(new RecipeEditor(*recipe_, this)), experiments_(new ExperimentsPanel(this)), run_page_(new RunPage(this)),
      parent_page_(new ParentPage(this)), side_tabs_(new QTabWidget(this)) {
  setObjectName(QStringLiteral("mainWindow"));
  setWindowTitle(tr("Quench"));
  setAcceptDrops(true);
  detail_->addPage(weight_page_);
  detail_->addPage(run_page_);
  detail_->addPage(activation_page_);
  detail_->addPage(parent_page_);
  smoothing_page_ = new SmoothingPage(this);
  detail_->addPage(smoothing_page_);
  browser_->model()->setRecipe(recipe_);
  run_settings_.calibration = settings_.calibrationSet();
  run_settings_.evaluation = settings_.evaluationSet();

  auto* left = new QWidget(this);
  auto* left_layout = new QVBoxLayout(left);
  left_layout->setContentsMargins(0, 0, 0, 0);
  left_layout->addWidget(summary_);
  left_layout->addWidget(browser_, 1);
  auto* split = new QSplitter(Qt::Horizontal, this);
  split->setObjectName(QStringLiteral("mainSplitter"));
  split->addWidget(left);
  // The layer table stays in view while the right side shows a layer, the recipe or the runs:
  // rows selected on the left are what the recipe editor applies a setting to.
  side_tabs_->setObjectName(QStringLiteral("sideTabs"));
  side_tabs_->addTab(detail_, tr("Layer"));
  side_tabs_->addTab(recipe_editor_, tr("Recipe"));
  side_tabs_->addTab(experiments_, tr("Experiments"));
  model_tree_ = new ModelTree(*browser_->model(), this);
  side_tabs_->addTab(model_tree_, tr("Model"));
  generate_ = new GeneratePanel(this);
  side_tabs_->addTab(generate_, tr("Generate"));
  connect(generate_, &GeneratePanel::generateRequested, this, &MainWindow::startGeneration);
  split->addWidget(side_tabs_);
  // The layer table gets most of the width: its Setting and SQNR columns sit beside the statistics.
  split->setSizes({870, 570});
  // A wider window widens the table most (the activation columns need it); a narrower one takes
  // from both sides, so that at 1024 px the table is not left with its name column alone.
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setChildrenCollapsible(false);
  setCentralWidget(split);

  auto* log_dock = new QDockWidget(tr("Log"), this);
  log_dock->setObjectName(QStringLiteral("logDock"));
  log_dock->setWidget(log_);
  addDockWidget(Qt::BottomDockWidgetArea, log_dock);
  addDockWidget(Qt::BottomDockWidgetArea, issues_dock_);
  tabifyDockWidget(log_dock, issues_dock_);
  log_dock->raise();
  resizeDocks({log_dock}, {150}, Qt::Vertical);
  log_->follow(*jobs_);

  auto* toolbar = addToolBar(tr("Main"));
  toolbar->setObjectName(QStringLiteral("mainToolbar"));
  toolbar->setMovable(false);
  buildMenus();
  toolbar->addAction(file_actions_->openAction());
  toolbar->addSeparator();
  toolbar->addWidget(new QLabel(tr(" Device "), toolbar));
  toolbar->addWidget(device_);

  statusBar()->addPermanentWidget(new JobStatusWidget(*jobs_, this));
  statusBar()->setSizeGripEnabled(true);

  connect(browser_, &LayerBrowser::currentLayerChanged, detail_, &LayerDetailPane::showLayer);
  // The layer on screen gets its statistics next while the job runs.
  connect(browser_, &LayerBrowser::currentLayerChanged, this, [this](int row) {
    if (wanted_stats_ && session_ && row >= 0 && row < session_->layerCount() && !session_->weightStats(row)) wanted_stats_->store(row);
  });
  connect(browser_, &LayerBrowser::currentLayerChanged, model_tree_, [this](int row) {
    if (session_ && row >= 0 && row < session_->layerCount()) model_tree_->setCurrentLayer(QString::fromStdString(session_->layer(row).name));
  });
  connect(model_tree_, &ModelTree::layerClicked, this, &MainWindow::showLayer);
  connect(model_tree_, &ModelTree::layerActivated, this, [this](const QString& name) {
    if (showLayer(name)) side_tabs_->setCurrentWidget(detail_);
  });
  connect(issues_dock_, &IssuesDock::jumpTo, this, &MainWindow::showIssue);
  connect(browser_, &LayerBrowser::selectionChanged, recipe_editor_,
          [this] { recipe_editor_->setSelection(browser_->selectedLayers(), browser_->selectionGlob()); });
  connect(recipe_editor_, &RecipeEditor::jumpToLayer, this, &MainWindow::showLayer);
  connect(recipe_, &RecipeDocument::changed, this, &MainWindow::onRecipeChanged);
  connect(experiments_, &ExperimentsPanel::openRequested, this, &MainWindow::openExperiment);
  connect(experiments_, &ExperimentsPanel::compareRequested, this, [this](const QList<int64_t>& ids) { compareExperiments(ids); });
  connect(experiments_, &ExperimentsPanel::storeFailed, this, [this](const QString& message) {
    issues_->clearSource(QStringLiteral("experiment store"));
    issues_->add({Issue::Severity::Error, message, {}, QStringLiteral("experiment store")});
  });
  connect(device_, &DeviceSelector::deviceChanged, this, [this](const QString& d) { settings_.setDevice(d); });
  connect(jobs_, &JobRunner::finished, this,
          [this](quint64 id, const QString& title, JobRunner::Outcome outcome, const QString& error) {
            if (id == generate_job_) {
              generate_job_ = 0;
              if (outcome == JobRunner::Outcome::Failed) generate_->finished(tr("Failed: %1").arg(error));
              else if (outcome == JobRunner::Outcome::Cancelled) generate_->finished(tr("Cancelled."));
            }
            onJobFinished(title, outcome, error);
          });

  useDatabase();
  resize(1440, 900);
  if (!settings_.windowGeometry().isEmpty()) restoreGeometry(settings_.windowGeometry());
  if (!settings_.windowState().isEmpty()) restoreState(settings_.windowState());
}

// Views let go of the session before it is released (members die after this body).
MainWindow::~MainWindow() {
  browser_->model()->setRecipe(nullptr);
  browser_->setSession(nullptr);
  detail_->setSession(nullptr);
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file_actions_ = new FileActions(*this, settings_, *file);
  connect(file_actions_, &FileActions::openRequested, this, &MainWindow::openModel);
  connect(file_actions_, &FileActions::exportRequested, this, &MainWindow::startExport);
  connect(file_actions_, &FileActions::preferencesChanged, this, [this] {
    run_settings_.calibration = defaultCalibration(data_modality_.isEmpty() ? QStringLiteral("text") : data_modality_);
    useDatabase();
  });
  addRecipeMenu(*this, *menuBar()->addMenu(tr("&Recipe")));

  QMenu* model = menuBar()->addMenu(tr("&Model"));
  QAction* stats = model->addAction(tr("Recompute &Weight Statistics"));
  stats->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_W));
  stats->setToolTip(tr("Compute every layer's weight statistics again, on the selected device"));
  connect(stats, &QAction::triggered, this, &MainWindow::computeWeightStatistics);
  QAction* compare = model->addAction(tr("Compare with &Float Model…"));
  compare->setObjectName(QStringLiteral("compareFloat"));
  compare->setToolTip(tr("Compare every layer of this (compressed) model with the float model it came from"));
  connect(compare, &QAction::triggered, this, [this] {
    const QString start = session_ ? QFileInfo(session_->summary().dir).absolutePath() : QString();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("The float model this one was compressed from"), start);
    if (!dir.isEmpty()) compareWithFloatModel(dir);
  });
  auto update_stats = [this, stats, compare] {
    stats->setEnabled(session_ != nullptr);
    compare->setEnabled(session_ != nullptr);
  };
  connect(this, &MainWindow::modelOpened, stats, update_stats);
  update_stats();

  addRunMenu(*this, *menuBar()->addMenu(tr("R&un")));

  QMenu* view = menuBar()->addMenu(tr("&View"));
  QAction* filter = view->addAction(tr("&Filter Layers"));
  filter->setShortcut(QKeySequence::Find);
  connect(filter, &QAction::triggered, browser_, &LayerBrowser::focusFilter);
  QAction* log_y = view->addAction(tr("&Logarithmic Histogram"));
  log_y->setCheckable(true);
  log_y->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_G));
  log_y->setObjectName(QStringLiteral("logHistogram"));
  // One state for the Weights and Activations pages' histograms: the action holds it, and a page's
  // own "log" box sets the action, which sets the other page.
  for (HistogramPlot* histogram : {weight_page_->histogram(), activation_page_->histogram()}) {
    histogram->setLogY(log_y->isChecked());
    connect(log_y, &QAction::toggled, histogram, &HistogramPlot::setLogY);
    connect(histogram, &HistogramPlot::logYChanged, log_y, &QAction::setChecked);
  }
  QAction* tree = view->addAction(tr("&Model Tree"));
  tree->setObjectName(QStringLiteral("showModelTree"));
  tree->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_4));
  tree->setToolTip(tr("The model's modules as a tree, coloured by a statistic or result of its layers"));
  connect(tree, &QAction::triggered, this, [this] { side_tabs_->setCurrentWidget(model_tree_); });
  view->addSeparator();
  for (QDockWidget* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  addHelpMenu(*this, *help);
}

void MainWindow::startGeneration(const QString& prompt, int max_new_tokens, double temperature) {
  if (!session_ || generate_job_) return;
  GenerateRequest r;
  r.model_dir = session_->summary().dir;
  r.device = device_->deviceName();
  r.prompt = prompt;
  r.max_new_tokens = max_new_tokens;
  r.temperature = temperature;
  generate_->started();
  generate_job_ = jobs_->submit(generateJob(
      r, [this](const QString& piece) { generate_->appendText(piece); }, [this](const QString& summary) { generate_->finished(summary); }));
}

}  // namespace quench::gui
