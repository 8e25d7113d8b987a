#pragma once
// Diagnostics about the open model and the jobs run on it (Tiled's issues list): severity, a
// message, and the layer it concerns, if any, so the dock can jump there. The same issue
// reported again is counted, not repeated.
#include <QAbstractTableModel>
#include <QString>

#include <utility>
#include <vector>

namespace quench::gui {

struct Issue {
  enum class Severity { Info, Warning, Error };
  Severity severity = Severity::Info;
  QString message;
  QString layer;   // Hugging Face module name, or empty
  QString source;  // what reported it ("weight statistics", "open model"): clear() by source
  // Where activating it goes beyond the layer: the detail page that shows the finding, and for
  // an activation finding the observed point ("model.layers.0.mixer:dt").
  enum class Page { Layer, Weights, Activations };
  Page page = Page::Layer;
  QString point;

  Issue() = default;
  Issue(Severity severity_, QString message_, QString layer_ = {}, QString source_ = {}, Page page_ = Page::Layer, QString point_ = {})
      : severity(severity_), message(std::move(message_)), layer(std::move(layer_)), source(std::move(source_)), page(page_), point(std::move(point_)) {}
};

class IssuesModel : public QAbstractTableModel {
  Q_OBJECT

 public:
  enum Column { SeverityColumn, LayerColumn, MessageColumn, ColumnCount };
  static constexpr int LayerRole = Qt::UserRole + 1;

  using QAbstractTableModel::QAbstractTableModel;

  void add(const Issue& issue);
  void clear();
  void clearSource(const QString& source);
  const Issue& issue(int row) const { return issues_.at(static_cast<size_t>(row)).issue; }
  int occurrences(int row) const { return issues_.at(static_cast<size_t>(row)).count; }
  int count(Issue::Severity s) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 Q_SIGNALS:
  void countsChanged();

 private:
  struct Entry {
    Issue issue;
    int count = 1;
  };
  std::vector<Entry> issues_;
};

}  // namespace quench::gui
