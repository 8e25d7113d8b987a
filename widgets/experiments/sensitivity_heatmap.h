#pragma once
// A sensitivity run as heatmaps: every unit (layer or block) against every candidate setting,
// each cell the damage (ΔNLL, KL or the top-1 drop) coloured from none to the run's worst; and
// the blocks by depth against the candidates, each cell the damage summed over the block's units,
// with its worst unit named. Where a model is fragile, and under which setting, reads at a glance.
// Double-clicking a cell shows its layer; the tables export as CSV, the view as PNG.
#include <QWidget>

#include "core/store/records.h"

class QTableWidget;
class QTabWidget;

namespace quench::gui {

class SensitivityHeatmap : public QWidget {
  Q_OBJECT

 public:
  // Throws quench::Error naming the run when it is not a sensitivity run with per-unit results.
  explicit SensitivityHeatmap(const ExperimentDetail& run, QWidget* parent = nullptr);

  enum Tab { UnitsTab, BlocksTab };
  QTabWidget* tabs() const { return tabs_; }
  QTableWidget* units() const { return units_; }
  QTableWidget* blocks() const { return blocks_; }
  const QStringList& candidates() const { return candidates_; }
  QString csv(Tab tab) const;

 Q_SIGNALS:
  void layerActivated(const QString& layer);

 private:
  struct Unit {
    QString name;
    QStringList layers;
    std::vector<double> delta;  // per candidate; NaN where the run has none
    std::vector<double> bits;
  };
  void fillUnits();
  void fillBlocks();

  ExperimentDetail run_;
  QString metric_, delta_name_;
  QStringList candidates_;
  std::vector<Unit> units_data_;
  double worst_ = 0;
  QTabWidget* tabs_;
  QTableWidget* units_;
  QTableWidget* blocks_;
};

}  // namespace quench::gui
