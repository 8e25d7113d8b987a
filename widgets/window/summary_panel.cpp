#include "widgets/window/summary_panel.h"

#include <QFormLayout>
#include <QLabel>
#include <QLocale>

#include "widgets/session/model_summary.h"
#include "widgets/util/text.h"

namespace quench::gui {

SummaryPanel::SummaryPanel(QWidget* parent) : QGroupBox(tr("Model"), parent), form_(new QFormLayout(this)) {
  setObjectName(QStringLiteral("summaryPanel"));
  form_->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
  form_->setLabelAlignment(Qt::AlignLeft);
  folder_ = add(tr("Folder"));
  architecture_ = add(tr("Architecture"));
  parameters_ = add(tr("Parameters"));
  dtype_ = add(tr("Stored dtype"));
  size_ = add(tr("Size on disk"));
  layers_ = add(tr("Compressible layers"));
  points_ = add(tr("Observable points"));
  folder_->setTextFormat(Qt::PlainText);
  setSummary(nullptr);
}

QLabel* SummaryPanel::add(const QString& label) {
  auto* value = new QLabel(this);
  value->setTextInteractionFlags(Qt::TextSelectableByMouse);
  form_->addRow(label, value);
  return value;
}

void SummaryPanel::setSummary(const ModelSummary* s) {
  setVisible(s != nullptr);
  if (!s) return;
  const QLocale locale;
  folder_->setText(s->name);
  folder_->setToolTip(s->dir);
  architecture_->setText(tr("%1 (%2, %3 blocks)").arg(s->architecture, s->modality).arg(s->blocks));
  parameters_->setText(tr("%1 (%2)").arg(locale.toString(static_cast<qlonglong>(s->parameters)), compactCount(s->parameters)));
  dtype_->setText(s->dtype);
  size_->setText(locale.formattedDataSize(static_cast<qint64>(s->bytes_on_disk), 1));
  layers_->setText(locale.toString(static_cast<qlonglong>(s->layers.size())));
  points_->setText(locale.toString(static_cast<qlonglong>(s->points)));
}

QString SummaryPanel::field(const QString& label) const {
  for (int row = 0; row < form_->rowCount(); ++row) {
    auto* l = qobject_cast<QLabel*>(form_->itemAt(row, QFormLayout::LabelRole)->widget());
    auto* v = qobject_cast<QLabel*>(form_->itemAt(row, QFormLayout::FieldRole)->widget());
    if (l && v && l->text() == label) return v->text();
  }
  return {};
}

}  // namespace quench::gui
