#include "widgets/detail/parent_page.h"

#include <QFileInfo>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include "widgets/plots/channel_plot.h"
#include "widgets/plots/histogram_plot.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

ParentPage::ParentPage(QWidget* parent)
    : DetailPage(parent), numbers_(new QLabel(this)), channels_(new ChannelPlot(this)), float_(new HistogramPlot(this)),
      this_(new HistogramPlot(this)) {
  numbers_->setObjectName(QStringLiteral("parentNumbers"));
  numbers_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  numbers_->setWordWrap(true);
  channels_->setObjectName(QStringLiteral("channelErrorPlot"));
  float_->setObjectName(QStringLiteral("floatHistogram"));
  this_->setObjectName(QStringLiteral("thisHistogram"));
  channels_->setTitle(tr("Share of the layer's squared error per input channel"));
  channels_->setNames(tr("input channel"), tr("error share"));
  float_->setAxisLabels(tr("weight"), tr("count"));
  this_->setAxisLabels(tr("weight"), tr("count"));
  connect(float_, &HistogramPlot::logYChanged, this_, &HistogramPlot::setLogY);
  connect(this_, &HistogramPlot::logYChanged, float_, &HistogramPlot::setLogY);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(channels_);
  split->addWidget(float_);
  split->addWidget(this_);
  split->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(numbers_);
  layout->addWidget(split, 1);
}

void ParentPage::showLayer(const ModelSession& session, int row) {
  float_->setTitle(tr("The float model's weight"));
  this_->setTitle(tr("This model's weight"));
  const WeightStats* mine = session.weightStats(row);
  if (mine) this_->setData(mine->all.histogram.edges(), mine->all.histogram.counts());
  else this_->clear();
  this_->setEmptyMessage(tr("computing weight statistics…"));

  const ModelSession::ParentLayer* p = session.parentLayer(row);
  if (!p) {
    const QString why = session.hasParent() ? tr("comparing…") : tr("no float model to compare with: Model → Compare with Float Model");
    channels_->clear();
    float_->clear();
    channels_->setEmptyMessage(why);
    float_->setEmptyMessage(why);
    numbers_->setText(session.hasParent()
                          ? tr("Comparing with %1…").arg(session.parentDir())
                          : tr("Compare this model with the float model it was compressed from (Model → Compare with Float Model) "
                               "to see what compression did to each layer."));
    return;
  }
  const LayerDiff& d = p->diff;
  float_->setTitle(tr("The float model's weight (%1)").arg(QFileInfo(session.parentDir()).fileName()));
  float_->setData(p->stats.all.histogram.edges(), p->stats.all.histogram.counts());
  const QString stored = d.type.empty() ? QString() : tr("stored as %1 · ").arg(QString::fromStdString(d.type));
  if (d.exact()) {
    channels_->clear();
    channels_->setEmptyMessage(tr("identical to the float model's weight"));
    numbers_->setText(tr("%1identical to the float model's weight").arg(stored));
    return;
  }
  std::vector<double> share(d.channel_error.begin(), d.channel_error.end());
  for (double& v : share) v /= d.error;
  std::vector<int64_t> worst;
  QStringList top;
  for (const auto& c : d.worst) {
    worst.push_back(c.channel);
    top << tr("%1 (%2%, |w| max %3)").arg(c.channel).arg(100 * c.share, 0, 'f', 1).arg(c.abs_max, 0, 'g', 3);
  }
  // The even share, 1/channels, is the reference: a channel at 10× carries ten times its part.
  const double even = share.empty() ? 0.0 : 1.0 / static_cast<double>(share.size());
  channels_->setData(share, worst, 0.0, even);
  numbers_->setText(tr("%1weight SQNR %2 dB · relative MSE %3\nworst input channels: %4")
                        .arg(stored)
                        .arg(d.sqnr_db(), 0, 'f', 2)
                        .arg(d.rel_mse(), 0, 'g', 3)
                        .arg(top.join(QStringLiteral(", "))));
}

QString ParentPage::numbersText() const { return numbers_->text(); }

}  // namespace quench::gui
