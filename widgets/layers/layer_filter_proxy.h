#pragma once
// Filters the layer table by name with the glob syntax recipes and `--points` use (core's
// glob_match: "*" any run of characters, "?" one; comma-separated alternatives), and by
// statistic: terms such as "kurtosis > 5" or "outliers >= 1" must all hold as well. Sorts every
// column by its raw value. Text without a wildcard matches anywhere in the name, as a search box
// should ("down_proj" finds every down_proj).
#include <QSortFilterProxyModel>
#include <QStringList>

#include <string>
#include <vector>

namespace quench::gui {

class LayerFilterProxy : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  explicit LayerFilterProxy(QObject* parent = nullptr);

  void setGlob(const QString& text);
  QString glob() const { return glob_; }
  bool hasConditions() const { return !conditions_.empty(); }
  // Why a term was not understood ("" when every term was); such a term filters nothing.
  QString error() const { return error_; }
  // The statistics a condition may name, for messages and tooltips.
  static QString statisticNames();

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;
  // Layers without a value (statistics not computed yet) sort after all others either way.
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

 private:
  struct Condition {
    int column;
    QString op;
    double value;
  };
  QString glob_, error_;
  std::vector<std::string> patterns_;
  std::vector<Condition> conditions_;
};

}  // namespace quench::gui
