#include "widgets/window/run_actions.h"

#include <QAction>
#include <QMenu>
#include <QTabWidget>

#include "widgets/experiments/experiments_panel.h"
#include "widgets/jobs/job_runner.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/window/main_window.h"

namespace quench::gui {

void addRecipeMenu(MainWindow& w, QMenu& menu) {
  RecipeEditor* editor = w.recipeEditor();
  QAction* load = menu.addAction(QObject::tr("&Load Recipe…"));
  load->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
  QObject::connect(load, &QAction::triggered, editor, &RecipeEditor::loadFile);
  QAction* save = menu.addAction(QObject::tr("&Save Recipe…"));
  save->setShortcut(QKeySequence::Save);
  QObject::connect(save, &QAction::triggered, editor, &RecipeEditor::saveFile);
  menu.addSeparator();
  // The editor's undo and redo actions, so the shortcuts work wherever the focus is.
  menu.addAction(editor->undoAction());
  menu.addAction(editor->redoAction());
  menu.addSeparator();
  QAction* apply = menu.addAction(QObject::tr("&Apply Setting to Selected Layers"));
  apply->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
  QObject::connect(apply, &QAction::triggered, editor, [editor] {
    editor->setTarget(RecipeEditor::Target::Selection);
    editor->applySetting();
  });
  QAction* show = menu.addAction(QObject::tr("Show the &Recipe Editor"));
  show->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_2));
  QObject::connect(show, &QAction::triggered, &w, [&w] { w.sideTabs()->setCurrentIndex(1); });
}

void addRunMenu(MainWindow& w, QMenu& menu) {
  QAction* compress = menu.addAction(QObject::tr("&Compress and Evaluate…"));
  compress->setObjectName(QStringLiteral("runCompress"));
  compress->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
  compress->setToolTip(QObject::tr("Compress the model with the recipe, measure each layer's error, evaluate it, record the run"));
  QObject::connect(compress, &QAction::triggered, &w, [&w] { w.startRun(RunDialog::Kind::Compress); });
  QAction* evaluate = menu.addAction(QObject::tr("&Evaluate Baseline…"));
  evaluate->setObjectName(QStringLiteral("runEvaluate"));
  evaluate->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
  evaluate->setToolTip(QObject::tr("Evaluate the model as stored and record it: the baseline compress runs compare with"));
  QObject::connect(evaluate, &QAction::triggered, &w, [&w] { w.startRun(RunDialog::Kind::Evaluate); });
  QAction* sensitivity = menu.addAction(QObject::tr("Layer &Sensitivity…"));
  sensitivity->setObjectName(QStringLiteral("runSensitivity"));
  sensitivity->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Y));
  sensitivity->setToolTip(QObject::tr("Compress one layer at a time and measure how much the metric moves; record the ranking"));
  QObject::connect(sensitivity, &QAction::triggered, &w, [&w] { w.startRun(RunDialog::Kind::Sensitivity); });
  QAction* calibrate = menu.addAction(QObject::tr("C&alibrate Activations…"));
  calibrate->setObjectName(QStringLiteral("runCalibrate"));
  calibrate->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));
  calibrate->setToolTip(QObject::tr("Run the calibration text through the model and record the statistics of every activation: "
                                    "the layer table's activation columns and the Activations page"));
  QObject::connect(calibrate, &QAction::triggered, &w, [&w] { w.startRun(RunDialog::Kind::Calibrate); });
  QAction* sweep = menu.addAction(QObject::tr("S&weep…"));
  sweep->setObjectName(QStringLiteral("runSweep"));
  sweep->setToolTip(QObject::tr("Many recipes, a grid of weight settings or a chunked sensitivity analysis, run here one after "
                                "another or as a Slurm job array; the results are collected into the experiments"));
  QObject::connect(sweep, &QAction::triggered, &w, [&w] { w.startSweep(); });
  // Beside the runs it cancels (it was in the Model menu, where users did not look for it).
  QAction* cancel = menu.addAction(QObject::tr("&Cancel Job"));
  cancel->setObjectName(QStringLiteral("cancelJobAction"));
  cancel->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
  cancel->setEnabled(false);
  JobRunner* jobs = &w.jobs();
  QObject::connect(cancel, &QAction::triggered, jobs, &JobRunner::cancelAll);
  QObject::connect(jobs, &JobRunner::started, cancel, [cancel] { cancel->setEnabled(true); });
  QObject::connect(jobs, &JobRunner::idle, cancel, [cancel] { cancel->setEnabled(false); });
  menu.addSeparator();
  QAction* experiments = menu.addAction(QObject::tr("Show E&xperiments"));
  experiments->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_3));
  QObject::connect(experiments, &QAction::triggered, &w, [&w] { w.sideTabs()->setCurrentIndex(2); });
  QAction* compare = menu.addAction(QObject::tr("C&ompare Selected Runs"));
  compare->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_C));
  QObject::connect(compare, &QAction::triggered, &w, [&w] {
    w.sideTabs()->setCurrentIndex(2);
    w.experiments()->compareSelected();
  });
  QAction* heatmap = menu.addAction(QObject::tr("Sensitivity &Heatmap"));
  heatmap->setObjectName(QStringLiteral("sensitivityHeatmapAction"));
  heatmap->setToolTip(QObject::tr("The sensitivity run shown in the table as heatmaps: every layer against every candidate setting, and the blocks by depth"));
  heatmap->setEnabled(false);
  QObject::connect(heatmap, &QAction::triggered, &w, [&w] { w.showSensitivityHeatmap(); });
  QObject::connect(&w, &MainWindow::sensitivityShown, heatmap, [heatmap, &w] { heatmap->setEnabled(w.hasSensitivityRun()); });
  QAction* details = menu.addAction(QObject::tr("Selected Run's &Details"));
  details->setObjectName(QStringLiteral("runDetailsAction"));
  details->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
  QObject::connect(details, &QAction::triggered, &w, [&w] {
    w.sideTabs()->setCurrentIndex(2);
    w.experiments()->showDetails();
  });
  QAction* layer = menu.addAction(QObject::tr("Show the &Layer"));
  layer->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_1));
  QObject::connect(layer, &QAction::triggered, &w, [&w] { w.sideTabs()->setCurrentIndex(0); });
}

}  // namespace quench::gui
