#pragma once
// The base of every Quench plot. QCustomPlot stays behind it (PlotJuggler's PlotWidgetBase idea):
// the rest of the code hands plots plain vectors and never sees a QCustomPlot type. Gives every
// plot a title, axis labels, an "empty" message instead of blank axes, and PNG/SVG export
// (context menu, or exportTo()).
#include <QString>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <memory>

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
  // Y ticks asked of the axis: fewer on a short plot, so their labels never overlap.
  int yTickCount() const;

  // Writes the plot as PNG or SVG (by the file's suffix) at its on-screen size, or `size` if given.
  // Throws quench::Error naming the file when it cannot be written.
  // The plot as PNG bytes (for a report that carries its images inline); size as exportTo.
  QByteArray pngBytes(QSize size = {}) const;
  void exportTo(const QString& path, QSize size = {}) const;
  // The plot as drawn, for tests and screenshots.
  QImage render(QSize size = {}) const;

  QSize sizeHint() const override { return {480, 260}; }
  // For Help → About.
  static QString libraryVersion();

  // The tooltip for a point in this widget's coordinates (empty: none). Shown on hover.
  virtual QString toolTipAt(const QPoint& pos) const { return {}; }

 protected:
  void resizeEvent(QResizeEvent* event) override;
  // For subclasses' .cpp files, which include <qcustomplot.h>.
  QCustomPlot* plot() const;
  // For plots with one entry per integer key 0…count−1 (channels). Hover hit-testing: of the
  // keys within a few pixels of pos, the one with the highest score (so a thin spike among
  // thousands of channels is easy to hit); −1 when none is near.
  int64_t keyNear(const QPoint& pos, int64_t count, const std::function<double(int64_t)>& score) const;
  // The x range that shows keys 0…count−1 with a small margin.
  void showKeys(int64_t count);
  // The key axis' range for `count` keys, leaving its ticker alone (named categories).
  void keyRange(int64_t count);
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
