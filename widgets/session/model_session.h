#pragma once
// The open model: its summary (for views), the model itself (for jobs), and the weight
// statistics as the statistics job delivers them. Lives on the UI thread; jobs hold a shared
// pointer to it and hand results back through JobContext::post.
#include <QList>
#include <QObject>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/eval/layer_diff.h"
#include "core/stats/weight_stats.h"
#include "core/store/records.h"
#include "widgets/session/model_summary.h"

namespace quench::gui {

class ModelSession : public QObject {
  Q_OBJECT

 public:
  ModelSession(ModelSummary summary, std::shared_ptr<Model> model);

  const ModelSummary& summary() const { return summary_; }
  // For jobs only. Views read summary(): a job may be moving or converting the model meanwhile.
  const std::shared_ptr<Model>& model() const { return model_; }

  int layerCount() const { return static_cast<int>(summary_.layers.size()); }
  const LayerRow& layer(int row) const { return summary_.layers.at(static_cast<size_t>(row)); }
  int rowOf(const std::string& layer) const;  // −1 when the model has no such layer

  // nullptr until the statistics job has delivered this layer's.
  const WeightStats* weightStats(int row) const;
  int weightStatsCount() const { return stats_count_; }
  // Stores statistics (matched to rows by layer name) and announces the rows that changed.
  void addWeightStats(std::vector<WeightStats> stats);

  // The last run shown on this model (a compress job just finished, or an experiment was opened):
  // per-layer results matched to rows by name, and the weight statistics after compression
  // (only for a run computed in this session; an opened experiment has none).
  struct Run {
    int64_t experiment_id = 0;
    QString name;
  };
  // errors: statistics of each compressed layer's weight minus its original weight.
  void setRun(Run run, std::vector<LayerResult> results, std::vector<WeightStats> after, std::vector<WeightStats> errors = {});
  bool hasRun() const { return run_.experiment_id != 0; }
  const Run& run() const { return run_; }
  const LayerResult* runResult(int row) const;
  const WeightStats* afterStats(int row) const;
  const WeightStats* errorStats(int row) const;  // nullptr: not kept (a stored run) or no error to take

  // Activation statistics of a calibration (a calibrate job just finished, or a calibrate
  // experiment was opened): one LayerStats per observed point, arrays included, as recorded.
  // Weight rows of the experiment (a point without ':') are ignored: the session computes its own.
  void setActivations(Run run, std::vector<LayerStats> points);
  bool hasActivations() const { return !points_.empty(); }
  const Run& activationRun() const { return activation_run_; }
  const LayerStats* point(const std::string& name) const;  // nullptr when not observed
  const std::vector<LayerStats>& points() const { return points_; }
  // The row a point is shown with: the layer it belongs to, or for a module's own point (a Mamba
  // mixer's x, dt, B, C, y) that module's first layer; −1 when no layer is inside the module.
  int rowOfPoint(const LayerStats& p) const;
  // The statistics of what layer `row` reads (its ":input" point); nullptr when not observed.
  const LayerStats* inputStats(int row) const;
  // Every observed point about layer `row`: its own (input, output), then those of the module
  // that holds it (a Mamba mixer's x, dt, B, C, y for its in_proj / out_proj), in model order.
  std::vector<const LayerStats*> pointsOf(int row) const;

  // A sensitivity analysis (a job just finished, or a sensitivity experiment was opened): each
  // layer's damage to the metric when its unit (the layer, or the block holding it) alone is
  // compressed with the first candidate, and the unit's rank (1: the most sensitive). Built from
  // the run's stored rows (settings: candidate, rank, layers, sensitivity[candidate].delta).
  struct LayerSensitivity {
    double delta = 0;
    int rank = 0;
    std::string unit;
  };
  void setSensitivity(Run run, QString metric, const std::vector<LayerResult>& units);
  bool hasSensitivity() const { return sensitivity_run_.experiment_id != 0; }
  const Run& sensitivityRun() const { return sensitivity_run_; }
  const QString& sensitivityMetric() const { return sensitivity_metric_; }      // perplexity, kl, top1
  // What the deltas measure: the mean NLL's rise (nats/token) for perplexity, the KL divergence
  // for kl, the top-1 drop for top1.
  QString sensitivityDeltaName() const;
  const QString& sensitivityCandidate() const { return sensitivity_candidate_; }  // W4A16-G128
  int sensitivityUnits() const { return sensitivity_units_; }
  const LayerSensitivity* sensitivity(int row) const;  // nullptr when no unit holds the layer

  // A comparison with the float model this one was compressed from (Model → Compare with Float
  // Model): each layer's weight error against the float weight, and the float weight's
  // statistics. startParent clears the previous comparison; layers arrive in batches.
  struct ParentLayer {
    LayerDiff diff;
    WeightStats stats;  // of the float weight
  };
  void startParent(const QString& dir);
  void addParentLayers(std::vector<ParentLayer> layers);
  bool hasParent() const { return !parent_dir_.isEmpty(); }
  const QString& parentDir() const { return parent_dir_; }
  const ParentLayer* parentLayer(int row) const;  // nullptr until compared

 Q_SIGNALS:
  void weightStatsAdded(const QList<int>& rows);
  void parentChanged(const QList<int>& rows);  // empty: the comparison was restarted
  void runChanged();
  void activationsChanged();
  void sensitivityChanged();

 private:
  ModelSummary summary_;
  std::shared_ptr<Model> model_;
  std::unordered_map<std::string, int> rows_;
  std::vector<std::unique_ptr<WeightStats>> stats_;  // [layers]
  int stats_count_ = 0;
  Run run_;
  std::vector<std::optional<LayerResult>> results_;  // [layers]
  std::vector<std::unique_ptr<WeightStats>> after_;   // [layers]
  std::vector<std::unique_ptr<WeightStats>> errors_;  // [layers]
  Run activation_run_;
  std::vector<LayerStats> points_;  // in the order recorded (the model's point order)
  std::unordered_map<std::string, size_t> point_index_;
  Run sensitivity_run_;
  QString sensitivity_metric_, sensitivity_candidate_;
  int sensitivity_units_ = 0;
  std::vector<std::optional<LayerSensitivity>> sensitivity_;  // [layers]
  QString parent_dir_;
  std::vector<std::unique_ptr<ParentLayer>> parent_;  // [layers]
};

}  // namespace quench::gui
