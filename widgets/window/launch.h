#pragma once
// The command line of `quench`: a model to open, and what to show once it is open. With
// --screenshot the window saves an image of itself once its jobs are done and quits, which is
// how packaging/screenshots.sh regenerates docs/screenshots/ from the real application.
#include <QSize>
#include <QString>
#include <QList>
#include <QStringList>

namespace quench::gui {

class MainWindow;

struct LaunchOptions {
  QString model;         // MODEL_DIR
  QString settings;      // --settings FILE: an INI file instead of the user's settings
  QString select;        // --select LAYER
  QString filter;        // --filter GLOB
  QString sort;          // --sort COLUMN[:asc|:desc], COLUMN as the table header names it
  bool log_y = false;    // --log-y
  bool issues = false;   // --issues: bring the Issues dock to the front
  QString recipe;        // --recipe FILE|SCHEME|PRESET: into the recipe editor once the model is open
  QStringList runs;      // --run compress,evaluate,sensitivity,calibrate: run these (run dialog defaults) in order
  bool compare = false;  // --compare: compare the runs --run recorded (the screenshot shows that window)
  QList<int64_t> compare_runs;  // --compare-runs ID,ID…: compare these stored runs instead
  bool heatmap = false;  // --heatmap: the sensitivity run shown, as heatmaps (the screenshot shows that window)
  QString compare_tab;   // --compare-tab metrics|layers|pareto
  QStringList compare_axes;  // --compare-axes X,Y: the trade-off plot's metrics (stored keys)
  QString tab;           // --tab layer|before-after|recipe|experiments|activations
  QString point;         // --point KIND: the Activations page's point (input, output, x, dt, B, C, y, probs, k, v)
  bool select_all = false;  // --select-all: select every row the filter shows (the recipe editor's target)
  QString export_dialog; // --export-dialog gguf|compressed-tensors|safetensors: open File → Export with this format
  QString sweep;         // --sweep DESCRIPTION.json: open Run → Sweep… filled from it and start it
  QString screenshot;    // --screenshot FILE.png
  QSize size{1440, 900}; // --size WxH
  int timeout_s = 120;   // --timeout SECONDS (screenshot mode)
};

// Parses arguments (argv[0] first); prints help or the version and exits for --help/--version.
// Throws quench::UsageError for malformed ones.
LaunchOptions parseLaunchOptions(const QStringList& arguments);

// Opens opts.model in the shown window; once its jobs have finished, loads the recipe and runs what
// --run asks for, then applies the filter, sort, selection, tab and log-y, opens the comparison,
// and in screenshot mode saves the window (the comparison's, with --compare) and quits the
// application with exit code 0 (1 when a job failed or the timeout passed).
void launch(MainWindow& window, const LaunchOptions& opts);

}  // namespace quench::gui
