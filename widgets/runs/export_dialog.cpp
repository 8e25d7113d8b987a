#include "widgets/runs/export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>

#include "core/compress/recipe.h"
#include "core/models/model.h"
#include "widgets/util/form_fields.h"
#include "widgets/runs/run_jobs.h"

namespace quench::gui {

namespace {
QString fileSafe(QString s) {
  for (QChar& c : s)
    if (!c.isLetterOrNumber() && c != QLatin1Char('-') && c != QLatin1Char('_') && c != QLatin1Char('.')) c = QLatin1Char('-');
  return s;
}
}  // namespace

ExportDialog::ExportDialog(const RunSettings& settings, std::shared_ptr<const Model> model, const nlohmann::json& recipe, QWidget* parent)
    : QDialog(parent), base_(settings), model_(std::move(model)) {
  setObjectName(QStringLiteral("exportDialog"));
  setWindowTitle(tr("Export Compressed Model"));
  auto* form = new QFormLayout();

  format_ = new QComboBox(this);
  format_->setObjectName(QStringLiteral("exportFormat"));
  format_->addItem(tr("GGUF for llama.cpp, Ollama, LM Studio (one .gguf file)"), QStringLiteral("gguf"));
  format_->addItem(tr("compressed-tensors for vLLM, SGLang, transformers (a directory)"), QStringLiteral("compressed-tensors"));
  format_->addItem(tr("float safetensors, dequantized (a directory)"), QStringLiteral("safetensors"));
  format_->setCurrentIndex(std::max(0, format_->findData(settings.export_format)));
  form->addRow(tr("Format"), format_);

  path_ = new QLineEdit(settings.export_path, this);
  path_->setObjectName(QStringLiteral("exportPath"));
  browse_ = new QPushButton(tr("Browse…"), this);
  browse_->setObjectName(QStringLiteral("exportBrowse"));
  connect(browse_, &QPushButton::clicked, this, [this] {
    const QString start = path_->text().isEmpty() ? QDir::homePath() : path_->text();
    const QString chosen = format() == QLatin1String("gguf")
                               ? QFileDialog::getSaveFileName(this, tr("Write the GGUF file"), start, tr("GGUF (*.gguf);;All files (*)"), nullptr,
                                                              QFileDialog::DontConfirmOverwrite)
                               : QFileDialog::getExistingDirectory(this, tr("Write the checkpoint into this directory"), start);
    if (!chosen.isEmpty()) path_->setText(chosen);
  });
  form->addRow(tr("Write to"), withBrowse(this, path_, browse_));

  float_type_ = new QComboBox(this);
  float_type_->setObjectName(QStringLiteral("floatType"));
  float_type_->addItem(tr("the checkpoint's dtype (F32 as F16)"), QString());
  float_type_->addItem(QStringLiteral("F16"), QStringLiteral("f16"));
  float_type_->addItem(QStringLiteral("BF16"), QStringLiteral("bf16"));
  float_type_->addItem(QStringLiteral("F32"), QStringLiteral("f32"));
  float_type_->setCurrentIndex(std::max(0, float_type_->findData(settings.export_float_type)));
  float_type_->setToolTip(tr("Type of the matrices the recipe leaves unquantized (embeddings, output head, layers kept in float); "
                             "norms and biases are always F32"));
  form->addRow(tr("Float type (GGUF)"), float_type_);

  force_ = new QCheckBox(tr("Replace an existing file or non-empty directory"), this);
  force_->setObjectName(QStringLiteral("exportForce"));
  force_->setChecked(settings.export_force);
  form->addRow(QString(), force_);

  name_ = new QLineEdit(settings.name, this);
  name_->setObjectName(QStringLiteral("runName"));
  name_->setPlaceholderText(tr("the recipe's name"));
  form->addRow(tr("Experiment name"), name_);

  calibration_ = new QLineEdit(settings.calibration, this);
  calibration_->setObjectName(QStringLiteral("calibration"));
  calibration_->setToolTip(tr("Text the recipe calibrates on (GPTQ, AWQ) and on which per-layer output errors are measured"));
  auto* calib_browse = new QPushButton(tr("Browse…"), this);
  connect(calib_browse, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Choose a text file"), calibration_->text(), tr("Text (*.txt *.jsonl);;All files (*)"));
    if (!f.isEmpty()) calibration_->setText(f);
  });
  form->addRow(tr("Calibration data"), withBrowse(this, calibration_, calib_browse));
  calib_samples_ = spinBox(this, "calibSamples", 1, 4096, settings.calib_samples, tr("Random windows taken from the calibration text"));
  seq_ = spinBox(this, "seq", 8, 8192, settings.seq, tr("Tokens per calibration window"));
  seed_ = spinBox(this, "seed", 0, 1 << 30, settings.seed, tr("Where the random windows start"));
  auto* calib_row = windowsRow(this, calib_samples_, seq_, tr("tokens, seed"));
  calib_row->addWidget(seed_);
  form->addRow(tr("Calibration samples"), calib_row);
  measure_ = spinBox(this, "measureSamples", 0, 4096, settings.measure_samples,
                  tr("Calibration windows on which each layer's output error is measured (0: skip)"));
  form->addRow(tr("Error measured on"), measure_);

  evaluate_ = new QCheckBox(tr("Also evaluate the compressed model"), this);
  evaluate_->setObjectName(QStringLiteral("evaluate"));
  evaluate_->setChecked(settings.evaluate);
  form->addRow(QString(), evaluate_);
  evaluation_ = new QLineEdit(settings.evaluation, this);
  evaluation_->setObjectName(QStringLiteral("evaluation"));
  evaluation_->setToolTip(tr("Held-out text the perplexity is measured on"));
  auto* eval_browse = new QPushButton(tr("Browse…"), this);
  connect(eval_browse, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Choose a text file"), evaluation_->text(), tr("Text (*.txt *.jsonl);;All files (*)"));
    if (!f.isEmpty()) evaluation_->setText(f);
  });
  QWidget* eval_box = withBrowse(this, evaluation_, eval_browse);
  form->addRow(tr("Evaluation text"), eval_box);
  ctx_ = spinBox(this, "ctx", 8, 8192, settings.ctx, tr("Tokens per window"));
  eval_windows_ = spinBox(this, "evalWindows", 0, 100000, settings.eval_windows, tr("Windows scored (0: the whole text)"));
  auto* eval_row = windowsRow(this, eval_windows_, ctx_, tr("tokens (0 windows: all)"));
  form->addRow(tr("Evaluation windows"), eval_row);
  auto sync_eval = [this, eval_box] {
    for (QWidget* w : {eval_box, static_cast<QWidget*>(ctx_), static_cast<QWidget*>(eval_windows_)}) w->setEnabled(evaluate_->isChecked());
  };
  connect(evaluate_, &QCheckBox::toggled, this, sync_eval);
  sync_eval();

  check_ = new QLabel(this);
  check_->setObjectName(QStringLiteral("exportCheck"));
  check_->setWordWrap(true);
  check_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* info = new QLabel(tr("Device %1 · store %2 · the run is recorded as a compress experiment with the file as its artifact")
                              .arg(settings.device, settings.database),
                          this);
  info->setWordWrap(true);
  info->setStyleSheet(QStringLiteral("color: gray;"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  ok_ = buttons->button(QDialogButtonBox::Ok);
  ok_->setText(tr("Compress and Export"));
  ok_->setObjectName(QStringLiteral("exportButton"));
  connect(buttons, &QDialogButtonBox::accepted, this, [this] {
    check();  // the path may have appeared since the last keystroke
    if (refusal_.isEmpty()) accept();
  });
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(check_);
  layout->addWidget(info);
  layout->addWidget(buttons);

  connect(format_, &QComboBox::currentIndexChanged, this, &ExportDialog::onFormatChanged);
  connect(path_, &QLineEdit::textChanged, this, &ExportDialog::check);
  connect(force_, &QCheckBox::toggled, this, &ExportDialog::check);
  connect(calibration_, &QLineEdit::textChanged, this, &ExportDialog::check);
  connect(evaluation_, &QLineEdit::textChanged, this, &ExportDialog::check);
  connect(evaluate_, &QCheckBox::toggled, this, &ExportDialog::check);
  setRecipe(recipe);
  onFormatChanged();
  resize(720, sizeHint().height());
}

QString ExportDialog::format() const { return format_->currentData().toString(); }

void ExportDialog::setRecipe(const nlohmann::json& recipe) {
  plan_.reset();
  recipe_error_.clear();
  try {
    const Recipe r = Recipe::parse(recipe, "recipe");
    recipe_name_ = QString::fromStdString(r.name);
    if (!model_) throw std::runtime_error("no model is open");
    plan_ = std::make_shared<const ResolvedRecipe>(resolve(r, *model_));
  } catch (const std::exception& e) {
    recipe_error_ = QString::fromStdString(e.what());
  }
  check();
}

void ExportDialog::onFormatChanged() {
  const bool gguf = format() == QLatin1String("gguf");
  float_type_->setEnabled(gguf);
  path_->setPlaceholderText(gguf ? tr("the .gguf file to write") : tr("the directory to write (absent or empty)"));
  // A path filled in for the user follows the format (file ↔ directory); one the user typed stays.
  if (path_->text().isEmpty() || path_->text() == suggested_) {
    const QString model = QFileInfo(base_.model_dir).fileName();
    const QString stem = fileSafe(model + (recipe_name_.isEmpty() ? QString() : QLatin1Char('-') + recipe_name_));
    const QString dir = QFileInfo(base_.model_dir).absolutePath();
    suggested_ = QDir(dir.isEmpty() ? QDir::homePath() : dir)
                     .filePath(gguf ? stem + QStringLiteral(".gguf") : stem + (format() == QLatin1String("safetensors") ? QStringLiteral("-float") : QStringLiteral("-ct")));
    path_->setText(suggested_);
  }
  check();
}

void ExportDialog::check() {
  QString why;
  bool refused = true;  // red: the recipe or the target refuses; grey: something still to fill in
  if (!recipe_error_.isEmpty()) {
    why = tr("The recipe has an error: %1").arg(recipe_error_);
  } else if (plan_) {
    why = exportRefusal(*model_, *plan_, format());
    if (!why.isEmpty()) {
      why = tr("%1 cannot hold this recipe: %2").arg(format_->currentText().section(QLatin1Char(' '), 0, 0), why);
    } else if (!(why = exportTargetRefusal(path_->text().trimmed(), format(), force_->isChecked())).isEmpty()) {
      refused = !path_->text().trimmed().isEmpty();
    } else if (calibration_->text().trimmed().isEmpty()) {
      why = tr("choose the calibration data");
      refused = false;
    } else if (!QFileInfo::exists(calibration_->text().trimmed())) {
      why = tr("%1: no such calibration file").arg(calibration_->text().trimmed());
    } else if (evaluate_->isChecked() && !QFileInfo::exists(evaluation_->text().trimmed())) {
      why = evaluation_->text().trimmed().isEmpty() ? tr("choose the evaluation text, or uncheck evaluation")
                                                    : tr("%1: no such evaluation file").arg(evaluation_->text().trimmed());
      refused = !evaluation_->text().trimmed().isEmpty();
    }
  }
  refusal_ = why;
  if (why.isEmpty()) {
    const int compressed = plan_ ? plan_->compressed_layers() : 0;
    check_->setText(tr("✓ exportable: %1 of %2 layers compressed by the recipe").arg(compressed).arg(plan_ ? plan_->layers.size() : 0));
    check_->setStyleSheet(QStringLiteral("color: #1a7f37;"));
  } else {
    check_->setText(why);
    check_->setStyleSheet(refused ? QStringLiteral("color: #cf222e;") : QStringLiteral("color: gray;"));
  }
  ok_->setEnabled(why.isEmpty());
}

RunSettings ExportDialog::settings() const {
  RunSettings s = base_;
  s.name = name_->text().trimmed();
  s.calibration = calibration_->text().trimmed();
  s.calib_samples = calib_samples_->value();
  s.seq = seq_->value();
  s.seed = seed_->value();
  s.measure_samples = measure_->value();
  s.evaluate = evaluate_->isChecked();
  s.evaluation = evaluation_->text().trimmed();
  s.ctx = ctx_->value();
  s.eval_windows = eval_windows_->value();
  s.export_format = format();
  s.export_path = path_->text().trimmed();
  s.export_float_type = format() == QLatin1String("gguf") ? float_type_->currentData().toString() : QString();
  s.export_force = force_->isChecked();
  return s;
}

}  // namespace quench::gui
