#include "widgets/plots/plot_widget.h"

#include <QBuffer>

#include <QContextMenuEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QMessageBox>
#include <QSvgGenerator>
#include <QToolTip>
#include <QGridLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "core/util/error.h"
#include "widgets/util/save_path.h"

namespace quench::gui {

struct PlotWidget::Impl {
  QCustomPlot* plot = nullptr;
  QCPTextElement* title = nullptr;
  QCPItemText* empty = nullptr;
};

PlotWidget::PlotWidget(QWidget* parent) : QWidget(parent), d_(std::make_unique<Impl>()) {
  // A grid so that controls can share the plot's cell (see overlay()).
  auto* layout = new QGridLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  d_->plot = new QCustomPlot(this);
  layout->addWidget(d_->plot, 0, 0);
  QCustomPlot& p = *d_->plot;
  p.setNoAntialiasingOnDrag(true);
  // Detail plots are a few hundred pixels tall: four y ticks keep their labels apart.
  p.yAxis->ticker()->setTickCount(4);
  p.plotLayout()->insertRow(0);
  d_->title = new QCPTextElement(&p, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
  p.plotLayout()->addElement(0, 0, d_->title);
  d_->empty = new QCPItemText(&p);
  d_->empty->setPositionAlignment(Qt::AlignCenter);
  d_->empty->position->setType(QCPItemPosition::ptAxisRectRatio);
  d_->empty->position->setCoords(0.5, 0.5);
  d_->empty->setColor(palette().color(QPalette::PlaceholderText));
  d_->empty->setText(tr("no data"));
  // The plot's own context menu (export) is ours; QCustomPlot would otherwise swallow the event.
  p.setContextMenuPolicy(Qt::NoContextMenu);
  connect(&p, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
    const QPoint pos = d_->plot->mapTo(this, e->pos());
    const QString tip = has_data_ ? toolTipAt(pos) : QString();
    if (tip.isEmpty())
      QToolTip::hideText();
    else
      QToolTip::showText(e->globalPosition().toPoint(), tip, this);
  });
}

PlotWidget::~PlotWidget() = default;

void PlotWidget::setTitle(const QString& title) {
  d_->title->setText(title);
  d_->plot->replot(QCustomPlot::rpQueuedReplot);
}

QString PlotWidget::title() const { return d_->title->text(); }

void PlotWidget::setAxisLabels(const QString& x, const QString& y) {
  d_->plot->xAxis->setLabel(x);
  d_->plot->yAxis->setLabel(y);
}

void PlotWidget::setEmptyMessage(const QString& message) { d_->empty->setText(message); }

void PlotWidget::overlay(QWidget* control, Qt::Alignment corner) {
  static_cast<QGridLayout*>(layout())->addWidget(control, 0, 0, corner);
  control->raise();
}

QString PlotWidget::libraryVersion() { return QStringLiteral(QCUSTOMPLOT_VERSION_STR); }

QCustomPlot* PlotWidget::plot() const { return d_->plot; }

int64_t PlotWidget::keyNear(const QPoint& pos, int64_t count, const std::function<double(int64_t)>& score) const {
  constexpr int kPixels = 3;
  const QPoint local = d_->plot->mapFrom(this, pos);
  if (count <= 0 || !d_->plot->axisRect()->rect().contains(local)) return -1;
  const double a = d_->plot->xAxis->pixelToCoord(local.x() - kPixels);
  const double b = d_->plot->xAxis->pixelToCoord(local.x() + kPixels);
  const auto first = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(std::min(a, b) - 0.5)));
  const auto last = std::min<int64_t>(count - 1, static_cast<int64_t>(std::floor(std::max(a, b) + 0.5)));
  if (first > last) return -1;
  int64_t best = first;
  for (int64_t k = first + 1; k <= last; ++k)
    if (score(k) > score(best)) best = k;
  return best;
}

namespace {
// About one y label per 45 pixels of axis, between 2 and 5 (a 1024×700 window's detail plots are
// ~100 px tall: five labels there overlapped).
void fitTicks(QCustomPlot& p) {
  const int h = p.axisRect()->height() > 0 ? p.axisRect()->height() : p.height() - 60;
  p.yAxis->ticker()->setTickCount(std::clamp(h / 45, 2, 5));
}
}  // namespace

int PlotWidget::yTickCount() const { return d_->plot->yAxis->ticker()->tickCount(); }

void PlotWidget::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  d_->plot->plotLayout()->layout();  // the axis rect's new size, before counting ticks for it
  fitTicks(*d_->plot);
  d_->plot->replot(QCustomPlot::rpQueuedReplot);
}

void PlotWidget::refresh(bool has_data) {
  has_data_ = has_data;
  fitTicks(*d_->plot);  // a subclass may have put a new ticker in
  d_->empty->setVisible(!has_data);
  d_->plot->replot(QCustomPlot::rpQueuedReplot);
}

void PlotWidget::keyRange(int64_t count) {
  const double n = static_cast<double>(count);
  d_->plot->xAxis->setRange(-0.5 - 0.01 * n, n - 0.5 + 0.01 * n);
}

void PlotWidget::showKeys(int64_t count) {
  keyRange(count);
  // Keys are channel indices: ticks on whole numbers only (no "2.5" under 16 channels).
  auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  d_->plot->xAxis->setTicker(ticker);
}

QSize PlotWidget::drawnSize() const {
  // A plot that was never shown has not been laid out yet; lay it out to get its real size.
  if (layout()) layout()->activate();
  return d_->plot->size();
}

QImage PlotWidget::render(QSize size) const {
  if (!size.isValid()) size = drawnSize();
  return d_->plot->toPixmap(size.width(), size.height()).toImage();
}

QByteArray PlotWidget::pngBytes(QSize size) const {
  if (!size.isValid()) size = drawnSize();
  QByteArray bytes;
  QBuffer buffer(&bytes);
  buffer.open(QIODevice::WriteOnly);
  if (!d_->plot->toPixmap(size.width(), size.height()).save(&buffer, "PNG"))
    throw quench::Error("could not draw the plot \"" + title().toStdString() + "\" as PNG");
  return bytes;
}

void PlotWidget::exportTo(const QString& path, QSize size) const {
  if (!size.isValid()) size = drawnSize();
  const QString suffix = QFileInfo(path).suffix().toLower();
  bool ok = false;
  if (suffix == QLatin1String("svg")) {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(size);
    svg.setViewBox(QRect(QPoint(0, 0), size));
    svg.setTitle(title());
    QCPPainter painter;
    ok = painter.begin(&svg);
    if (ok) {
      d_->plot->toPainter(&painter, size.width(), size.height());
      ok = painter.end();
    }
    ok = ok && QFileInfo(path).size() > 0;
  } else if (suffix == QLatin1String("png")) {
    ok = d_->plot->savePng(path, size.width(), size.height());
  } else {
    throw quench::Error("cannot export a plot as '" + suffix.toStdString() + "' (" + path.toStdString() +
                        "): use .png or .svg");
  }
  if (!ok) throw quench::Error("could not write the plot to " + path.toStdString());
}

void PlotWidget::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* save = menu.addAction(tr("Export plot as PNG or SVG…"));
  if (menu.exec(event->globalPos()) != save) return;
  QString name = title().isEmpty() ? QStringLiteral("plot") : title();
  name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9._-]+")), QStringLiteral("_"));
  const QString path = QFileDialog::getSaveFileName(this, tr("Export plot"), suggestedSavePath(name + QStringLiteral(".png")),
                                                    tr("PNG image (*.png);;SVG drawing (*.svg)"));
  if (path.isEmpty()) return;
  rememberSavePath(path);
  try {
    exportTo(path);
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Export failed"), QString::fromStdString(e.what()));
  }
}

}  // namespace quench::gui
