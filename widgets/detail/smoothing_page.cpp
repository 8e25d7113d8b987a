#include "widgets/detail/smoothing_page.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "widgets/plots/channel_pair_plot.h"
#include "widgets/session/model_session.h"

namespace quench::gui {

namespace {
// SmoothQuant clamps the weight's range so that a dead channel does not divide by zero.
constexpr double kMinRange = 1e-5;

double spread(std::vector<double> v) {
  if (v.empty()) return 0;
  const double top = *std::max_element(v.begin(), v.end());
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  const double median = v[v.size() / 2];
  return median > 0 ? top / median : 0;
}

// X_j / s_j (activations) or W_j · s_j (weights), s_j = |X_j|^α / |W_j|^(1−α).
std::vector<double> smooth(const std::vector<double>& x, const std::vector<double>& w, double alpha, bool activations) {
  std::vector<double> out(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    const double xa = std::max(x[j], kMinRange), wa = std::max(w[j], kMinRange);
    const double s = std::pow(xa, alpha) / std::pow(wa, 1 - alpha);
    out[j] = activations ? x[j] / s : w[j] * s;
  }
  return out;
}
}  // namespace

SmoothingPage::SmoothingPage(QWidget* parent)
    : DetailPage(parent), numbers_(new QLabel(this)), alpha_(new QDoubleSpinBox(this)), smoothed_(new QCheckBox(tr("after smoothing"), this)),
      plot_(new ChannelPairPlot(this)) {
  numbers_->setObjectName(QStringLiteral("smoothingNumbers"));
  numbers_->setWordWrap(true);
  numbers_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  alpha_->setObjectName(QStringLiteral("smoothingAlpha"));
  alpha_->setRange(0, 1);
  alpha_->setSingleStep(0.05);
  alpha_->setDecimals(2);
  alpha_->setValue(0.5);
  alpha_->setToolTip(tr("SmoothQuant's migration strength α: how much of the activations' range moves into the weights"));
  smoothed_->setObjectName(QStringLiteral("smoothingAfter"));
  smoothed_->setToolTip(tr("Plot both ranges after smoothing with α"));
  plot_->setObjectName(QStringLiteral("smoothingPlot"));
  plot_->setAxisLabels(tr("input channel"), tr("range (max |·|)"));
  auto* controls = new QHBoxLayout();
  controls->addWidget(new QLabel(tr("α"), this));
  controls->addWidget(alpha_);
  controls->addWidget(smoothed_);
  controls->addStretch(1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(numbers_);
  layout->addLayout(controls);
  layout->addWidget(plot_, 1);
  connect(alpha_, &QDoubleSpinBox::valueChanged, this, &SmoothingPage::redraw);
  connect(smoothed_, &QCheckBox::toggled, this, &SmoothingPage::redraw);
}

void SmoothingPage::showLayer(const ModelSession& session, int row) {
  x_.clear();
  w_.clear();
  const WeightStats* ws = session.weightStats(row);
  const LayerStats* xs = session.inputStats(row);
  const StatArray* absmax = nullptr;
  if (xs)
    if (const auto it = xs->arrays.find("channel_absmax"); it != xs->arrays.end()) absmax = &it->second;
  if (!session.hasActivations()) plot_->setEmptyMessage(tr("no activation statistics: Run → Calibrate Activations"));
  else if (!absmax) plot_->setEmptyMessage(tr("the calibration has no per-channel ranges of this layer's input"));
  else if (!ws) plot_->setEmptyMessage(tr("computing weight statistics…"));
  else if (session.layer(row).kind != LayerKind::Linear) plot_->setEmptyMessage(tr("smoothing applies to Linear layers"));
  else {
    x_ = absmax->to_doubles();
    w_ = ws->in_absmax;
    if (x_.size() != w_.size()) {
      plot_->setEmptyMessage(tr("the input has %1 channels and the weight %2 columns").arg(x_.size()).arg(w_.size()));
      x_.clear(), w_.clear();
    }
  }
  plot_->setTitle(tr("%1: activation and weight range per input channel").arg(QString::fromStdString(session.layer(row).name)));
  redraw();
}

double SmoothingPage::activationSpread(bool smoothed) const { return spread(smoothed ? smooth(x_, w_, alpha_->value(), true) : x_); }
double SmoothingPage::weightSpread(bool smoothed) const { return spread(smoothed ? smooth(x_, w_, alpha_->value(), false) : w_); }

void SmoothingPage::redraw() {
  if (x_.empty()) {
    plot_->clear();
    numbers_->setText(tr("Calibrate activations (Run → Calibrate Activations) to see each input channel's activation range "
                         "next to the weight's, and what SmoothQuant would do to them."));
    return;
  }
  const bool after = smoothed_->isChecked();
  const double alpha = alpha_->value();
  plot_->setData(after ? smooth(x_, w_, alpha, true) : x_, after ? smooth(x_, w_, alpha, false) : w_,
                 after ? tr("|X| max / s") : tr("|X| max (activations)"), after ? tr("|W| max · s") : tr("|W| max (weights)"));
  numbers_->setText(tr("Largest channel over the median: activations %1×, weights %2×. Smoothed with α = %3 "
                       "(s = |X|^α / |W|^(1−α), folded into the previous layer): activations %4×, weights %5×.")
                        .arg(activationSpread(false), 0, 'f', 1)
                        .arg(weightSpread(false), 0, 'f', 1)
                        .arg(alpha, 0, 'f', 2)
                        .arg(activationSpread(true), 0, 'f', 1)
                        .arg(weightSpread(true), 0, 'f', 1));
}

QString SmoothingPage::numbersText() const { return numbers_->text(); }

}  // namespace quench::gui
