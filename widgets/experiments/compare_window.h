#pragma once
// Stored runs side by side: every metric with its delta against the first run, each layer's error
// per run as grouped bars and as a sortable table, any two metrics against each other (model size
// against quality by default; speed, time, …) for every run of the model with the Pareto front and
// the compared runs marked, and what each run was (model, device,
// duration, data, recipe). One run alone is its detail page. Plots export as PNG/SVG, tables as
// CSV, everything as one HTML report.
#include <QList>
#include <QWidget>

#include <map>
#include <string>
#include <vector>

#include "core/store/compare.h"
#include "core/store/records.h"

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QTableWidget;
class QTabWidget;

namespace quench {
class Store;
}

namespace quench::gui {

class BarPlot;
class PlotWidget;
class ScatterPlot;

class CompareWindow : public QWidget {
  Q_OBJECT

 public:
  // Reads the runs from the store now. Throws quench::Error for an id the store does not have.
  CompareWindow(Store& store, const QList<int64_t>& ids, QWidget* parent = nullptr);

  enum Tab { MetricsTab, LayersTab, ParetoTab, LayerTableTab, RunsTab };
  QTabWidget* tabs() const { return tabs_; }
  QTableWidget* metricsTable() const { return metrics_; }
  QTableWidget* layerTable() const { return layer_table_; }
  QTableWidget* runsTable() const { return runs_table_; }
  QPlainTextEdit* recipes() const { return recipes_; }
  BarPlot* layerPlot() const { return layer_plot_; }
  ScatterPlot* paretoPlot() const { return pareto_; }
  QString qualityMetric() const { return quality_; }
  // The trade-off plot's axes: the metrics (stored keys) its combo boxes list, as item data.
  QComboBox* paretoX() const { return pareto_x_; }
  QComboBox* paretoY() const { return pareto_y_; }

  // CSV of a tab's data (metrics with deltas; per-layer errors; size and quality of each run;
  // every per-layer result; the runs).
  QString csv(Tab tab) const;
  // The current tab's plot (PNG or SVG by suffix) or data (CSV). Throw quench::Error naming the file.
  void exportPlot(const QString& path) const;
  void exportCsv(const QString& path) const;
  // One self-contained HTML file for sharing: the runs (model, device, duration, data), the
  // metrics with deltas, the per-layer and size-vs-quality plots inline as PNG, the per-layer
  // numbers, and each run's recipe. Throws quench::Error naming the file.
  QString reportHtml() const;
  void exportReport(const QString& path) const;

 private:
  void fillMetrics();
  void fillLayers();
  void loadModelRuns(Store& store);
  void fillPareto();
  void fillLayerTable();
  void fillRuns();
  PlotWidget* currentPlot() const;

  std::vector<ExperimentDetail> runs_;
  Comparison comparison_;
  QString quality_;
  QStringList layer_names_;
  std::vector<std::vector<double>> layer_values_;  // [series][layer]
  QStringList layer_series_;
  // Every completed run of the compared runs' model, with its metrics (evaluations of the model as
  // stored carry its size on disk as size_bytes).
  struct ModelRun {
    int64_t id;
    QString name;
    bool compared;
    std::map<std::string, double> metrics;
  };
  std::vector<ModelRun> model_runs_;
  struct ParetoRow {
    int64_t id;
    QString name;
    double x, y;
    bool compared;
  };
  std::vector<ParetoRow> pareto_rows_;
  QString paretoTitle() const;

  QTabWidget* tabs_;
  QTableWidget* metrics_;
  QComboBox* layer_metric_;
  BarPlot* layer_plot_;
  ScatterPlot* pareto_;
  QComboBox* pareto_x_;
  QComboBox* pareto_y_;
  QLabel* pareto_note_;
  QTableWidget* layer_table_;
  QTableWidget* runs_table_;
  QPlainTextEdit* recipes_;
};

}  // namespace quench::gui
