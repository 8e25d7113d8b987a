#include "widgets/detail/run_page.h"

#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

#include "widgets/plots/histogram_plot.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
QString db(const std::optional<double>& v) { return v ? QObject::tr("%1 dB").arg(*v, 0, 'f', 1) : QObject::tr("not measured"); }
}  // namespace

RunPage::RunPage(QWidget* parent)
    : DetailPage(parent), numbers_(new QLabel(this)), before_(new HistogramPlot(this)), after_(new HistogramPlot(this)),
      error_(new HistogramPlot(this)) {
  numbers_->setObjectName(QStringLiteral("runNumbers"));
  numbers_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  numbers_->setWordWrap(true);
  before_->setObjectName(QStringLiteral("beforeHistogram"));
  after_->setObjectName(QStringLiteral("afterHistogram"));
  before_->setTitle(tr("Before: the float weight"));
  after_->setTitle(tr("After: the compressed weight"));
  before_->setAxisLabels(tr("weight"), tr("count"));
  after_->setAxisLabels(tr("weight"), tr("count"));
  error_->setObjectName(QStringLiteral("errorHistogram"));
  error_->setTitle(tr("Error: compressed − float weight"));
  error_->setAxisLabels(tr("error"), tr("count"));
  // One log toggle for both, so the two stay comparable.
  connect(before_, &HistogramPlot::logYChanged, after_, &HistogramPlot::setLogY);
  connect(after_, &HistogramPlot::logYChanged, before_, &HistogramPlot::setLogY);
  connect(after_, &HistogramPlot::logYChanged, error_, &HistogramPlot::setLogY);
  connect(error_, &HistogramPlot::logYChanged, after_, &HistogramPlot::setLogY);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(before_);
  split->addWidget(after_);
  split->addWidget(error_);
  split->setChildrenCollapsible(false);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(numbers_);
  layout->addWidget(split, 1);
}

void RunPage::showLayer(const ModelSession& session, int row) {
  const WeightStats* b = session.weightStats(row);
  if (b) before_->setData(b->all.histogram.edges(), b->all.histogram.counts());
  else before_->clear();
  before_->setEmptyMessage(tr("computing weight statistics…"));
  const WeightStats* a = session.afterStats(row);
  if (a) after_->setData(a->all.histogram.edges(), a->all.histogram.counts());
  else after_->clear();
  // One x axis for both, and the float weight's outline over the compressed one: where the grid
  // put the values and what the clipping cut off read directly.
  if (b && a) after_->setOverlay(b->all.histogram.edges(), b->all.histogram.counts());
  else after_->setOverlay({}, {});
  std::optional<std::pair<double, double>> shared;
  for (const HistogramPlot* h : {before_, after_})
    if (const auto r = h->valueRange())
      shared = shared ? std::make_pair(std::min(shared->first, r->first), std::max(shared->second, r->second)) : *r;
  before_->setSharedXRange(b && a ? shared : std::nullopt);
  after_->setSharedXRange(b && a ? shared : std::nullopt);
  const WeightStats* e = session.errorStats(row);
  if (e) error_->setData(e->all.histogram.edges(), e->all.histogram.counts());
  else error_->clear();
  error_->setEmptyMessage(tr("the error is kept only for runs made in this session"));

  if (!session.hasRun()) {
    after_->setEmptyMessage(tr("no run yet: Run → Compress and Evaluate (Ctrl+R)"));
    error_->setEmptyMessage(tr("no run yet"));
    numbers_->setText(tr("No run on this model yet. Compress it (Run → Compress and Evaluate), or open a compress experiment in "
                         "the Experiments tab, to compare each layer before and after."));
    return;
  }
  const auto& run = session.run();
  const LayerResult* r = session.runResult(row);
  after_->setTitle(a ? tr("After: run #%1 %2 (dashed: the float weight)").arg(run.experiment_id).arg(run.name)
                     : tr("After: run #%1 %2").arg(run.experiment_id).arg(run.name));
  after_->setEmptyMessage(r ? tr("the compressed weight is kept only for runs made in this session")
                            : tr("run #%1 did not compress this layer").arg(run.experiment_id));
  if (!r) {
    error_->setEmptyMessage(tr("run #%1 did not compress this layer").arg(run.experiment_id));
    numbers_->setText(tr("Run #%1 (%2) kept this layer in full precision.").arg(run.experiment_id).arg(run.name));
    return;
  }
  QString setting;
  if (r->settings.contains("weights") && r->settings["weights"].is_object()) {
    const auto& w = r->settings["weights"];
    setting = tr("W%1 %2").arg(w.value("bits", 0)).arg(QString::fromStdString(w.value("strategy", std::string())));
    if (w.contains("group_size")) setting += tr(" g%1").arg(w["group_size"].get<int64_t>());
    setting += QLatin1Char(' ') + QString::fromStdString(w.value("method", std::string()));
  }
  numbers_->setText(tr("Run #%1 %2: %3 · %4 bits/weight · weight SQNR %5 · output SQNR %6")
                        .arg(run.experiment_id)
                        .arg(run.name, setting.isEmpty() ? tr("activations only") : setting)
                        .arg(r->bits ? QString::number(*r->bits, 'f', 3) : tr("16"))
                        .arg(db(r->weight_sqnr_db), db(r->output_sqnr_db)) +
                    (e ? tr(" · error std %1, largest %2").arg(e->all.std, 0, 'g', 3).arg(e->all.absmax, 0, 'g', 3) : QString()));
}

QString RunPage::numbersText() const { return numbers_->text(); }

}  // namespace quench::gui
