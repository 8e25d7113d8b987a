#include "widgets/util/form_fields.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace quench::gui {

QSpinBox* spinBox(QWidget* parent, const char* name, int lo, int hi, int value, const QString& tip) {
  auto* s = new QSpinBox(parent);
  s->setObjectName(QString::fromLatin1(name));
  s->setRange(lo, hi);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

QDoubleSpinBox* doubleSpinBox(QWidget* parent, const char* name, double lo, double hi, int decimals, double step, double value,
                              const QString& tip) {
  auto* s = new QDoubleSpinBox(parent);
  s->setObjectName(QString::fromLatin1(name));
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setValue(value);
  s->setToolTip(tip);
  return s;
}

QHBoxLayout* windowsRow(QWidget* parent, QSpinBox* count, QSpinBox* tokens, const QString& after) {
  auto* row = new QHBoxLayout();
  row->addWidget(count);
  row->addWidget(new QLabel(QObject::tr("windows of"), parent));
  row->addWidget(tokens);
  row->addWidget(new QLabel(after, parent));
  return row;
}

QHBoxLayout* countRow(QWidget* parent, QSpinBox* count, const QString& after) {
  auto* row = new QHBoxLayout();
  row->addWidget(count);
  row->addWidget(new QLabel(after, parent));
  return row;
}

QWidget* withBrowse(QWidget* parent, QLineEdit* edit, QPushButton* browse) {
  auto* box = new QWidget(parent);
  auto* row = new QHBoxLayout(box);
  row->setContentsMargins(0, 0, 0, 0);
  edit->setParent(box);
  browse->setParent(box);
  row->addWidget(edit, 1);
  row->addWidget(browse);
  return box;
}

}  // namespace quench::gui
