#pragma once
// A sensitivity run as heatmaps: every unit (layer or block) against every candidate setting,
// each cell the damage (ΔNLL, KL or the top-1 drop) coloured from none to the run's worst; and
// the blocks by depth against the candidates, each cell the damage summed over the block's units,
// with its worst unit named. Where a model is fragile, and under which setting, reads at a glance.
// Double-clicking a cell shows its layer; the tables export as CSV, the view as PNG. Under a
// budget (bits per weight, or sparsity) it suggests the recipe that picks one candidate per unit
// with the least summed damage (core/compress/mixed_precision.h), for the recipe editor.
#include <QWidget>

#include <nlohmann/json.hpp>
#include <optional>

#include "core/runs/sensitivity_merge.h"
#include "core/store/records.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
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

  // The suggestion's inputs and outcome (tests drive them as a user would).
  QComboBox* budgetKind() const { return budget_kind_; }
  QDoubleSpinBox* budget() const { return budget_; }
  QLabel* suggestion() const { return suggestion_; }
  // Computes the suggestion for the budget set; emits recipeSuggested, or shows why not.
  void suggest();

 Q_SIGNALS:
  void layerActivated(const QString& layer);
  void recipeSuggested(const nlohmann::json& recipe, const QString& description);

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
  std::optional<StoredSensitivity> stored_;  // what the suggestion is computed from
  QTabWidget* tabs_;
  QTableWidget* units_;
  QTableWidget* blocks_;
  QComboBox* budget_kind_;
  QDoubleSpinBox* budget_;
  QLabel* suggestion_;
};

}  // namespace quench::gui
