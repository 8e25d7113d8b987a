#pragma once
// One row per compressible layer of the open model: what it is (name, kind, shape, parameters)
// and, once the statistics job delivered them, its weight statistics, with heat colours relative
// to the model's other layers; after a calibration, the statistics of each layer's input
// activations, coloured the same way. Display text is formatted; SortRole holds the raw number.
#include <QAbstractTableModel>

#include <array>
#include <vector>

#include "widgets/layers/heat_scale.h"

namespace quench {
struct LayerPlan;
struct LayerResult;
}  // namespace quench

namespace quench::gui {

class ModelSession;
class RecipeDocument;

class LayerTableModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  // Setting: what the recipe being edited gives the layer. Error: the last run's output SQNR
  // (the weight's when the output error was not measured). Act*: the layer's ":input" point in
  // the last calibration shown (absmax, 99.99th percentile of |x|, outlier channels).
  enum Column {
    NameColumn, KindColumn, SettingColumn, ErrorColumn, ShapeColumn, ParametersColumn, AbsmaxColumn, KurtosisColumn,
    OutliersColumn, ActAbsmaxColumn, ActP9999Column, ActOutliersColumn, SensitivityColumn, ColumnCount
  };
  static constexpr int SortRole = Qt::UserRole;
  static constexpr int HeatRole = Qt::UserRole + 1;  // double in [0, 1] on statistic columns

  using QAbstractTableModel::QAbstractTableModel;

  // nullptr: no model open. The session must outlive its use here (or be replaced first).
  void setSession(const ModelSession* session);
  const ModelSession* session() const { return session_; }
  // The recipe whose per-layer setting the Setting column shows (nullptr: none).
  void setRecipe(const RecipeDocument* recipe);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  void onStatsAdded();
  // The raw value of a statistic column, NaN while the layer has no statistics.
  double statistic(int row, int column) const;
  static bool isStatistic(int column) { return column >= AbsmaxColumn && column <= SensitivityColumn; }
  static bool isCount(int column) { return column == OutliersColumn || column == ActOutliersColumn; }
  QVariant runData(int row, int column, int role) const;
  QVariant parentData(int row, int role) const;
  void columnChanged(int column);
  // The recipe's plan for `row` when it differs from the setting `r` was measured with (the
  // result is stale), else nullptr.
  const LayerPlan* stalePlan(int row, const LayerResult& r) const;
  const LayerPlan* computeStalePlan(int row, const LayerResult& r, const LayerPlan* p) const;
  QString sensitivityTip(int row) const;

  const ModelSession* session_ = nullptr;
  QMetaObject::Connection stats_connection_, run_connection_, activations_connection_, parent_connection_, sensitivity_connection_;
  const RecipeDocument* recipe_ = nullptr;
  std::array<HeatScale, ColumnCount> heat_;
  mutable std::vector<signed char> stale_;  // per row: −1 not known yet, 0 current, 1 stale
};

}  // namespace quench::gui
