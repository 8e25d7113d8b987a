#include "widgets/generate/generate_panel.h"

#include <QDoubleSpinBox>
#include <QFontDatabase>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTextCursor>
#include <QVBoxLayout>

namespace quench::gui {

GeneratePanel::GeneratePanel(QWidget* parent)
    : QWidget(parent), prompt_(new QPlainTextEdit(this)), max_new_(new QSpinBox(this)), temperature_(new QDoubleSpinBox(this)),
      generate_(new QPushButton(tr("Generate"), this)), output_(new QPlainTextEdit(this)), status_(new QLabel(this)) {
  setObjectName(QStringLiteral("generatePanel"));
  prompt_->setObjectName(QStringLiteral("generatePrompt"));
  prompt_->setPlaceholderText(tr("A prompt for the model to continue"));
  prompt_->setPlainText(tr("The state of the union is"));
  prompt_->setMaximumHeight(110);
  max_new_->setObjectName(QStringLiteral("generateMaxNew"));
  max_new_->setRange(1, 4096);
  max_new_->setValue(64);
  temperature_->setObjectName(QStringLiteral("generateTemperature"));
  temperature_->setRange(0, 5);
  temperature_->setSingleStep(0.1);
  temperature_->setDecimals(2);
  temperature_->setValue(0);
  temperature_->setSpecialValueText(tr("0 (greedy)"));
  generate_->setObjectName(QStringLiteral("generateButton"));
  output_->setObjectName(QStringLiteral("generateOutput"));
  output_->setReadOnly(true);
  output_->setFont(QFontDatabase::systemFont(QFontDatabase::GeneralFont));
  status_->setObjectName(QStringLiteral("generateStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);

  auto* form = new QFormLayout();
  form->addRow(tr("New tokens"), max_new_);
  form->addRow(tr("Temperature"), temperature_);
  auto* row = new QHBoxLayout();
  row->addLayout(form);
  row->addStretch(1);
  row->addWidget(generate_, 0, Qt::AlignBottom);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(new QLabel(tr("Prompt"), this));
  layout->addWidget(prompt_);
  layout->addLayout(row);
  layout->addWidget(new QLabel(tr("Continuation (the model as stored on disk, on the toolbar's device)"), this));
  layout->addWidget(output_, 1);
  layout->addWidget(status_);
  connect(generate_, &QPushButton::clicked, this, [this] {
    if (ready_ && !running_) Q_EMIT generateRequested(prompt(), maxNewTokens(), temperature());
  });
  setModelReady(false, tr("Open a language model to generate text."));
}

QString GeneratePanel::prompt() const { return prompt_->toPlainText(); }
int GeneratePanel::maxNewTokens() const { return max_new_->value(); }
double GeneratePanel::temperature() const { return temperature_->value(); }

void GeneratePanel::setModelReady(bool ready, const QString& why) {
  ready_ = ready;
  if (!ready) status_->setText(why);
  else if (!running_) status_->clear();
  updateButton();
}

void GeneratePanel::updateButton() { generate_->setEnabled(ready_ && !running_); }

void GeneratePanel::started() {
  running_ = true;
  updateButton();
  output_->setPlainText(prompt());
  status_->setText(tr("Generating…"));
}

void GeneratePanel::appendText(const QString& piece) {
  QTextCursor c = output_->textCursor();
  c.movePosition(QTextCursor::End);
  c.insertText(piece);
  output_->setTextCursor(c);
}

void GeneratePanel::finished(const QString& summary) {
  running_ = false;
  updateButton();
  status_->setText(summary);
}

}  // namespace quench::gui
