#include "widgets/detail/weight_page.h"

#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include "widgets/plots/channel_plot.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/plots/range_plot.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
// What a weight's axes mean, by kind (the layouts weight_stats.h documents).
struct ChannelNames {
  QString input, output;
};
ChannelNames channelNames(LayerKind kind) {
  if (kind == LayerKind::Embedding) return {QObject::tr("embedding dim"), QObject::tr("token")};
  return {QObject::tr("input channel"), QObject::tr("output channel")};
}
}  // namespace

WeightPage::WeightPage(QWidget* parent)
    : DetailPage(parent), numbers_(new QLabel(this)), histogram_(new HistogramPlot(this)),
      channels_(new ChannelPlot(this)), ranges_(new RangePlot(this)) {
  numbers_->setObjectName(QStringLiteral("weightNumbers"));
  numbers_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  numbers_->setWordWrap(true);
  histogram_->setObjectName(QStringLiteral("weightHistogram"));
  channels_->setObjectName(QStringLiteral("inputChannelPlot"));
  ranges_->setObjectName(QStringLiteral("outputRangePlot"));
  histogram_->setTitle(tr("Weight distribution"));
  histogram_->setAxisLabels(tr("weight"), tr("count"));


  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(histogram_);
  split->addWidget(channels_);
  split->addWidget(ranges_);
  split->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(numbers_);
  layout->addWidget(split, 1);
}

void WeightPage::showLayer(const ModelSession& session, int row) {
  const LayerRow& layer = session.layer(row);
  const ChannelNames names = channelNames(layer.kind);
  channels_->setNames(names.input, tr("absmax"));
  ranges_->setChannelName(names.output);
  channels_->setTitle(tr("Absmax per %1").arg(names.input));
  ranges_->setTitle(tr("Weight range per %1 (min to max)").arg(names.output));

  const WeightStats* s = session.weightStats(row);
  if (!s) {
    const QString pending = tr("computing weight statistics…");
    for (PlotWidget* p : std::initializer_list<PlotWidget*>{histogram_, channels_, ranges_}) p->setEmptyMessage(pending);
    histogram_->clear();
    channels_->clear();
    ranges_->clear();
    numbers_->setText(pending);
    return;
  }
  histogram_->setData(s->all.histogram.edges(), s->all.histogram.counts());
  std::vector<int64_t> outliers;
  for (const auto& o : s->outliers.channels) outliers.push_back(o.channel);
  channels_->setData(s->in_absmax, outliers, s->outliers.multiple * s->outliers.median_absmax, s->outliers.median_absmax);
  ranges_->setData(s->out_min, s->out_max);

  QString outlierText = tr("none");
  if (!s->outliers.channels.empty()) {
    QStringList top;
    for (size_t i = 0; i < s->outliers.channels.size() && i < 5; ++i)
      top << tr("%1 (%2×)").arg(s->outliers.channels[i].channel).arg(s->outliers.channels[i].ratio, 0, 'f', 1);
    outlierText = tr("%1: %2%3")
                      .arg(s->outliers.channels.size())
                      .arg(top.join(QStringLiteral(", ")), s->outliers.channels.size() > 5 ? tr(", …") : QString());
  }
  numbers_->setText(tr("|W| max %1 · mean %2 · std %3 · kurtosis %4 · outlier %5s %6")
                        .arg(s->all.absmax, 0, 'g', 4)
                        .arg(s->all.mean, 0, 'g', 3)
                        .arg(s->all.std, 0, 'g', 4)
                        .arg(s->all.kurtosis, 0, 'f', 2)
                        .arg(names.input, outlierText));
}

QString WeightPage::numbersText() const { return numbers_->text(); }

}  // namespace quench::gui
