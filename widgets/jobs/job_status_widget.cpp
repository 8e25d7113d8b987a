#include "widgets/jobs/job_status_widget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>

#include <cmath>

#include "widgets/jobs/job_runner.h"

namespace quench::gui {

JobStatusWidget::JobStatusWidget(JobRunner& runner, QWidget* parent)
    : QWidget(parent), title_(new QLabel(this)), bar_(new QProgressBar(this)), eta_(new QLabel(this)),
      cancel_(new QToolButton(this)) {
  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(title_);
  row->addWidget(bar_);
  row->addWidget(eta_);
  row->addWidget(cancel_);
  bar_->setFixedWidth(220);
  bar_->setTextVisible(true);
  cancel_->setText(tr("Cancel"));
  cancel_->setToolTip(tr("Cancel the running job (Ctrl+.)"));
  cancel_->setObjectName(QStringLiteral("cancelJob"));
  setVisible(false);

  connect(cancel_, &QToolButton::clicked, &runner, &JobRunner::cancelAll);
  connect(&runner, &JobRunner::started, this, [this](quint64, const QString& title) {
    title_->setText(title);
    bar_->setRange(0, 0);  // busy until the job reports a total
    eta_->clear();
    cancel_->setEnabled(true);
    setVisible(true);
  });
  // A job stops at its next check, which can be seconds away (a layer of GPTQ): say so at once.
  connect(&runner, &JobRunner::cancelling, this, [this] {
    title_->setText(tr("Cancelling %1…").arg(title_->text()));
    bar_->setRange(0, 0);
    eta_->clear();
    cancel_->setEnabled(false);
  });
  connect(&runner, &JobRunner::progressed, this,
          [this](quint64, qint64 done, qint64 total, const QString& message, double eta) {
            if (!cancel_->isEnabled()) return;  // cancelling: the state stays on screen until the job stops
            if (total > 0) {
              // QProgressBar holds ints: scale to per-mille so totals beyond 2^31 still work.
              bar_->setRange(0, 1000);
              bar_->setValue(static_cast<int>(1000.0 * static_cast<double>(done) / static_cast<double>(total)));
            }
            bar_->setToolTip(message);
            eta_->setText(etaText(eta));
          });
  connect(&runner, &JobRunner::idle, this, [this] { setVisible(false); });
}

QString JobStatusWidget::etaText(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return {};
  const auto s = static_cast<long long>(std::ceil(seconds));
  if (s < 60) return tr("%1 s left").arg(s);
  if (s < 3600) return tr("%1 min %2 s left").arg(s / 60).arg(s % 60);
  return tr("%1 h %2 min left").arg(s / 3600).arg((s % 3600) / 60);
}

}  // namespace quench::gui
