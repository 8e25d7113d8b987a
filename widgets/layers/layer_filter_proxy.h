#pragma once
// Filters the layer table by name with the glob syntax recipes and `--points` use (core's
// glob_match: "*" any run of characters, "?" one; comma-separated alternatives), and sorts every
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

 protected:
  bool filterAcceptsRow(int source_row, const QModelIndex& source_parent) const override;
  // Layers without a value (statistics not computed yet) sort after all others either way.
  bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

 private:
  QString glob_;
  std::vector<std::string> patterns_;
};

}  // namespace quench::gui
