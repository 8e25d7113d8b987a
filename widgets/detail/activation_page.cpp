#include "widgets/detail/activation_page.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

#include "core/models/model.h"
#include "core/store/records.h"
#include "widgets/plots/channel_plot.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
constexpr int kMaxRowsShown = 8;  // more scroll
enum Column { PointColumn, AbsmaxColumn, P9999Column, KurtosisColumn, OutliersColumn, ChannelsColumn, ColumnCount };

QString suffixOf(const std::string& point) {
  const size_t colon = point.rfind(':');
  return QString::fromStdString(colon == std::string::npos ? point : point.substr(colon + 1));
}

// How a point reads in the table: "input" for the layer's own, "mixer:dt" for its parent's.
QString shortName(const LayerStats& s, const std::string& layer) {
  if (s.layer == layer) return suffixOf(s.point);
  const size_t dot = s.layer.rfind('.');
  return QString::fromStdString(dot == std::string::npos ? s.layer : s.layer.substr(dot + 1)) + QLatin1Char(':') + suffixOf(s.point);
}

std::vector<double> array(const LayerStats& s, const char* name) {
  auto it = s.arrays.find(name);
  return it == s.arrays.end() ? std::vector<double>{} : it->second.to_doubles();
}

QTableWidgetItem* number(double v, char format, int precision) {
  auto* item = new QTableWidgetItem(std::isnan(v) ? QString() : QString::number(v, format, precision));
  item->setData(Qt::UserRole, v);
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}
}  // namespace

ActivationPage::ActivationPage(QWidget* parent)
    : DetailPage(parent), numbers_(new QLabel(this)), table_(new QTableWidget(0, ColumnCount, this)),
      histogram_(new HistogramPlot(this)), channels_(new ChannelPlot(this)) {
  numbers_->setObjectName(QStringLiteral("activationNumbers"));
  numbers_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  numbers_->setWordWrap(true);
  table_->setObjectName(QStringLiteral("activationPoints"));
  table_->setHorizontalHeaderLabels({tr("Point"), tr("|x| max"), tr("p99.99"), tr("Kurtosis"), tr("Outliers"), tr("Channels")});
  table_->horizontalHeaderItem(OutliersColumn)->setToolTip(tr("Channels whose absmax exceeds the outlier multiple × the median channel's"));
  table_->horizontalHeaderItem(P9999Column)->setToolTip(tr("99.99th percentile of |x|"));
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
  histogram_->setObjectName(QStringLiteral("activationHistogram"));
  histogram_->setAxisLabels(tr("activation"), tr("count"));
  channels_->setObjectName(QStringLiteral("activationChannelPlot"));
  channels_->setNames(tr("channel"), tr("absmax"));
  connect(table_, &QTableWidget::currentCellChanged, this, [this](int row) {
    if (row < 0 || row >= static_cast<int>(shown_.size())) return;
    suffix_ = suffixOf(shown_[static_cast<size_t>(row)]->point);
    showPoint(row);
  });

  // The table is as tall as its rows (a Mamba mixer layer lists seven), the plots share the rest.
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(histogram_);
  split->addWidget(channels_);
  split->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(numbers_);
  layout->addWidget(table_);
  layout->addWidget(split, 1);
}

QString ActivationPage::meaningOf(const std::string& point) const {
  const auto it = meanings_.find(point);
  return it == meanings_.end() ? QString() : it->second;
}

void ActivationPage::showLayer(const ModelSession& session, int row) {
  const std::string& layer = session.layer(row).name;
  shown_ = session.pointsOf(row);
  // What an internal point is, as its architecture file describes it; a layer's own input and
  // output need no words. Read once per model.
  if (session.model().get() != meanings_of_) {
    meanings_.clear();
    meanings_of_ = session.model().get();
    if (meanings_of_)
      for (const PointInfo& p : meanings_of_->points())
        if (p.layer.empty() || (p.name != p.layer + ":input" && p.name != p.layer + ":output")) meanings_[p.name] = QString::fromStdString(p.description);
  }
  const QSignalBlocker block(table_);
  table_->setRowCount(static_cast<int>(shown_.size()));
  int pick = -1;
  for (int r = 0; r < static_cast<int>(shown_.size()); ++r) {
    const LayerStats& s = *shown_[static_cast<size_t>(r)];
    auto* name = new QTableWidgetItem(shortName(s, layer));
    const QString what = meaningOf(s.point);
    name->setToolTip(QString::fromStdString(s.point) + (what.isEmpty() ? QString() : QStringLiteral("\n") + what));
    table_->setItem(r, PointColumn, name);
    const double kNone = std::numeric_limits<double>::quiet_NaN();
    table_->setItem(r, AbsmaxColumn, number(s.absmax.value_or(kNone), 'g', 4));
    table_->setItem(r, P9999Column, number(s.p99_99.value_or(kNone), 'g', 4));
    table_->setItem(r, KurtosisColumn, number(s.kurtosis.value_or(kNone), 'f', 1));
    table_->setItem(r, OutliersColumn, number(s.outliers ? static_cast<double>(*s.outliers) : kNone, 'f', 0));
    table_->setItem(r, ChannelsColumn, number(s.extra.value("channels", kNone), 'f', 0));
    if (pick < 0 && suffixOf(s.point) == suffix_) pick = r;
  }
  table_->resizeColumnsToContents();
  table_->resizeRowsToContents();
  int height = table_->horizontalHeader()->height() + 2 * table_->frameWidth();
  for (int r = 0; r < table_->rowCount() && r < kMaxRowsShown; ++r) height += table_->rowHeight(r);
  table_->setFixedHeight(height);
  table_->setVisible(!shown_.empty());
  if (shown_.empty()) {
    const QString why = session.hasActivations()
                            ? tr("The calibration (run #%1) observed no point of this layer.").arg(session.activationRun().experiment_id)
                            : tr("No activation statistics yet: Run → Calibrate Activations (Ctrl+Shift+A), or open a calibrate run "
                                 "in the Experiments tab.");
    numbers_->setText(why);
    histogram_->setEmptyMessage(why);
    channels_->setEmptyMessage(why);
    // No point shown: titles that named the last one (another model's, perhaps) go too.
    histogram_->setTitle(tr("Distribution"));
    channels_->setTitle(tr("Absmax per channel"));
    histogram_->clear();
    channels_->clear();
    return;
  }
  if (pick < 0) pick = 0;
  table_->selectRow(pick);
  showPoint(pick);
}

void ActivationPage::showPoint(int index) {
  const LayerStats& s = *shown_[static_cast<size_t>(index)];
  const QString name = QString::fromStdString(s.point);
  // Titles name the point briefly (the header names the layer; the numbers above the full point).
  const size_t dot = s.layer.rfind('.');
  const QString brief = QString::fromStdString(dot == std::string::npos ? s.layer : s.layer.substr(dot + 1)) + QLatin1Char(':') + suffixOf(s.point);
  const QString symbol = suffixOf(s.point) == QLatin1String("dt") ? QStringLiteral(" (Δ)") : QString();
  histogram_->setTitle(tr("Distribution of %1%2").arg(brief, symbol));
  channels_->setTitle(tr("Absmax per channel of %1%2").arg(brief, symbol));
  const std::vector<double> edges = array(s, "hist_edges"), counts_d = array(s, "hist_counts");
  std::vector<int64_t> counts(counts_d.begin(), counts_d.end());
  const QString missing = tr("this run's arrays were not loaded");
  histogram_->setEmptyMessage(missing);
  channels_->setEmptyMessage(missing);
  if (edges.size() == counts.size() + 1 && !counts.empty()) histogram_->setData(edges, counts);
  else histogram_->clear();
  const std::vector<double> absmax = array(s, "channel_absmax");
  std::vector<int64_t> outliers;
  for (double c : array(s, "outlier_channels")) outliers.push_back(static_cast<int64_t>(c));
  const double median = s.extra.value("median_channel_absmax", 0.0), multiple = s.extra.value("outlier_multiple", 0.0);
  if (!absmax.empty()) channels_->setData(absmax, outliers, multiple * median, median);
  else channels_->clear();
  const QString what = meaningOf(s.point);
  numbers_->setText(tr("%1: |x| max %2 · p99.99 %3 · mean %4 · std %5 · kurtosis %6 · %7 of %8 channels are outliers (> %9× the median %10)")
                        .arg(name + (what.isEmpty() ? QString() : QStringLiteral(" (") + what + QLatin1Char(')')))
                        .arg(s.absmax.value_or(0), 0, 'g', 4)
                        .arg(s.p99_99.value_or(0), 0, 'g', 4)
                        .arg(s.mean.value_or(0), 0, 'g', 3)
                        .arg(s.std.value_or(0), 0, 'g', 4)
                        .arg(s.kurtosis.value_or(0), 0, 'f', 1)
                        .arg(s.outliers.value_or(0))
                        .arg(s.extra.value("channels", int64_t{0}))
                        .arg(multiple, 0, 'g', 3)
                        .arg(median, 0, 'g', 3));
}

bool ActivationPage::selectPoint(const QString& suffix) {
  for (int r = 0; r < table_->rowCount(); ++r)
    if (suffixOf(shown_[static_cast<size_t>(r)]->point) == suffix) {
      table_->setCurrentCell(r, PointColumn);  // shows it
      return true;
    }
  return false;
}

bool ActivationPage::selectPointNamed(const QString& point) {
  const std::string name = point.toStdString();
  for (int r = 0; r < table_->rowCount(); ++r)
    if (shown_[static_cast<size_t>(r)]->point == name) {
      table_->setCurrentCell(r, PointColumn);
      return true;
    }
  return false;
}

QStringList ActivationPage::points() const {
  QStringList out;
  for (const LayerStats* s : shown_) out << QString::fromStdString(s->point);
  return out;
}

QString ActivationPage::currentPoint() const {
  const int r = table_->currentRow();
  return r >= 0 && r < static_cast<int>(shown_.size()) ? QString::fromStdString(shown_[static_cast<size_t>(r)]->point) : QString();
}

QString ActivationPage::numbersText() const { return numbers_->text(); }

}  // namespace quench::gui
