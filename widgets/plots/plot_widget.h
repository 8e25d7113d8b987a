#pragma once
// The base of every Quench plot. QCustomPlot stays behind it (PlotJuggler's PlotWidgetBase idea):
// the rest of the code hands plots plain vectors and never sees a QCustomPlot type. Gives every
// plot a title, axis labels, an "empty" message instead of blank axes, and PNG/SVG export
// (context menu, or exportTo()).
#include <QString>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <utility>

class QCustomPlot;

namespace quench::gui {

class PlotWidget : public QWidget {
  Q_OBJECT

 public:
  explicit PlotWidget(QWidget* parent = nullptr);
  ~PlotWidget() override;

  void setTitle(const QString& title);
  QString title() const;
  void setAxisLabels(const QString& x, const QString& y);
  // Shown across the plot when it has nothing to show, so an empty plot says why.
  void setEmptyMessage(const QString& message);
  bool hasData() const { return has_data_; }

  // Writes the plot as PNG or SVG (by the file's suffix) at its on-screen size, or `size` if given.
  // Throws quench::Error naming the file when it cannot be written.
  void exportTo(const QString& path, QSize size = {}) const;
  // The plot as drawn, for tests and screenshots.
  QImage render(QSize size = {}) const;

  QSize sizeHint() const override { return {480, 260}; }
  // For Help → About.
  static QString libraryVersion();

  // The tooltip for a point in this widget's coordinates (empty: none). Shown on hover.
  virtual QString toolTipAt(const QPoint& pos) const { return {}; }

 protected:
  // For subclasses' .cpp files, which include <qcustomplot.h>.
  QCustomPlot* plot() const;
  // For plots with one entry per integer key 0…count−1: the first and last key within a few
  // pixels of pos, for hover hit-testing (first > last when none is).
  std::pair<int64_t, int64_t> keysNear(const QPoint& pos, int64_t count) const;
  // Call after changing data: redraws, and shows or hides the empty message.
  void refresh(bool has_data);
  // Places a control (a toggle, a selector) over the plot at a corner.
  void overlay(QWidget* control, Qt::Alignment corner);

  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  QSize drawnSize() const;

  struct Impl;
  std::unique_ptr<Impl> d_;
  bool has_data_ = false;
};

}  // namespace quench::gui
