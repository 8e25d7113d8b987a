#include "widgets/runs/run_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
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

#include "core/store/metrics.h"
#include "widgets/util/form_fields.h"

namespace quench::gui {

RunDialog::RunDialog(Kind kind, const RunSettings& settings, QWidget* parent) : QDialog(parent), kind_(kind), base_(settings) {
  setObjectName(QStringLiteral("runDialog"));
  setWindowTitle(kind == Kind::Compress     ? tr("Compress and Evaluate")
                 : kind == Kind::Evaluate   ? tr("Evaluate the Baseline")
                 : kind == Kind::Calibrate ? tr("Calibrate Activations")
                                            : tr("Layer Sensitivity"));
  auto* form = new QFormLayout();
  name_ = new QLineEdit(settings.name, this);
  name_->setObjectName(QStringLiteral("runName"));
  name_->setPlaceholderText(kind == Kind::Compress     ? tr("the recipe's name")
                            : kind == Kind::Evaluate   ? tr("baseline <model>")
                            : kind == Kind::Calibrate ? tr("calibrate <model>")
                                                       : tr("sensitivity <setting>"));
  form->addRow(tr("Experiment name"), name_);

  if (kind == Kind::Sensitivity) {
    candidates_ = new QLineEdit(settings.candidates, this);
    candidates_->setObjectName(QStringLiteral("candidates"));
    candidates_->setToolTip(tr("Settings tried on each layer, one at a time: schemes separated by commas (W4A16-G128, W3A16-G128); "
                               "layers are ranked by the first"));
    form->addRow(tr("Settings to try"), candidates_);
    metric_ = new QComboBox(this);
    metric_->setObjectName(QStringLiteral("metric"));
    metric_->addItem(tr("perplexity (ranked by ΔNLL)"), QString::fromLatin1(metric_names::kPerplexity));
    metric_->addItem(tr("KL divergence from the float model"), QString::fromLatin1(metric_names::kKl));
    metric_->addItem(tr("top-1 drop (image models)"), QString::fromLatin1(metric_names::kTop1));
    metric_->setCurrentIndex(std::max(0, metric_->findData(settings.metric)));
    form->addRow(tr("Metric"), metric_);
    layers_ = new QLineEdit(settings.layers, this);
    layers_->setObjectName(QStringLiteral("layersGlob"));
    layers_->setPlaceholderText(tr("every layer a recipe default reaches"));
    form->addRow(tr("Layers (globs)"), layers_);
  }
  // Image models read images (an IDX file or a folder of class folders), counted in images: no
  // tokens, windows or seed.
  const bool images = settings.modality == QStringLiteral("image");
  const QString data = images ? tr("Images") : tr("Text");
  if (kind != Kind::Evaluate) {
    calibration_ = fileField(QStringLiteral("calibration"), settings.calibration, images);
    calibration_->setToolTip(kind == Kind::Compress ? tr("%1 the recipe calibrates on (GPTQ, AWQ, static activations) and on which "
                                                         "per-layer output errors are measured").arg(data)
                             : kind == Kind::Calibrate ? tr("%1 whose activations are measured at every observable point").arg(data)
                                                       : tr("%1 for candidates that need calibration (GPTQ, AWQ); may stay empty for RTN").arg(data));
    form->addRow(tr("Calibration data"), calibration_->parentWidget());
    calib_samples_ = spinBox(this, "calibSamples", 1, 4096, settings.calib_samples,
                             images ? tr("The first images of the set") : tr("Random windows taken from the calibration text"));
    seq_ = spinBox(this, "seq", 8, 8192, settings.seq, tr("Tokens per calibration window"));
    seed_ = spinBox(this, "seed", 0, 1 << 30, settings.seed, tr("Where the random windows start"));
    if (images) {
      seq_->hide();
      seed_->hide();
      form->addRow(tr("Calibration samples"), countRow(this, calib_samples_, tr("images (the first of the set)")));
    } else {
      auto* row = windowsRow(this, calib_samples_, seq_, tr("tokens, seed"));
      row->addWidget(seed_);
      form->addRow(tr("Calibration samples"), row);
    }
  }
  if (kind == Kind::Calibrate) {
    points_ = new QLineEdit(settings.points, this);
    points_->setObjectName(QStringLiteral("points"));
    points_->setPlaceholderText(tr("every point (*)"));
    points_->setToolTip(tr("Comma-separated globs over point names, e.g. *:input or *mixer:*"));
    form->addRow(tr("Points (globs)"), points_);
  }
  if (kind == Kind::Compress) {
    measure_ = spinBox(this, "measureSamples", 0, 4096, settings.measure_samples,
                    tr("Calibration windows on which each layer's output error is measured (0: skip)"));
    form->addRow(tr("Error measured on"), measure_);
    evaluate_ = new QCheckBox(tr("Evaluate the compressed model"), this);
    evaluate_->setObjectName(QStringLiteral("evaluate"));
    evaluate_->setChecked(settings.evaluate);
    form->addRow(QString(), evaluate_);
  }
  if (kind != Kind::Calibrate) {
    evaluation_ = fileField(QStringLiteral("evaluation"), settings.evaluation, images);
    evaluation_->setToolTip(images ? tr("An IDX images file, or a folder of class sub-folders, scored by top-1")
                                   : tr("Held-out text the perplexity is measured on"));
    form->addRow(kind == Kind::Sensitivity ? tr("%1 to score on").arg(data) : tr("Evaluation %1").arg(data.toLower()),
                 evaluation_->parentWidget());
    if (images) {
      evaluation_labels_ = fileField(QStringLiteral("evaluationLabels"), settings.evaluation_labels, true);
      evaluation_labels_->setToolTip(tr("The IDX labels file of the IDX images file above (empty for a folder of class sub-folders)"));
      form->addRow(tr("Labels"), evaluation_labels_->parentWidget());
    }
    ctx_ = spinBox(this, "ctx", 8, 8192, settings.ctx, tr("Tokens per window"));
    eval_windows_ = spinBox(this, "evalWindows", 0, 100000, settings.eval_windows,
                            images ? tr("Images scored (0: all)") : tr("Windows scored (0: the whole text)"));
    if (images) {
      ctx_->hide();
      form->addRow(tr("Images scored"), countRow(this, eval_windows_, tr("images (0: all)")));
    } else {
      form->addRow(tr("Evaluation windows"), windowsRow(this, eval_windows_, ctx_, tr("tokens (0 windows: all)")));
    }
  }
  if (evaluate_) {
    auto sync = [this] {
      for (QWidget* w : {evaluation_->parentWidget(), evaluation_labels_ ? evaluation_labels_->parentWidget() : nullptr,
                         static_cast<QWidget*>(ctx_), static_cast<QWidget*>(eval_windows_)})
        if (w) w->setEnabled(evaluate_->isChecked());
    };
    connect(evaluate_, &QCheckBox::toggled, this, sync);
    sync();
  }

  auto* info = new QLabel(tr("Device %1 · store %2").arg(settings.device, settings.database), this);
  info->setWordWrap(true);
  info->setStyleSheet(QStringLiteral("color: gray;"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Run"));
  buttons->button(QDialogButtonBox::Ok)->setObjectName(QStringLiteral("runButton"));
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  problem_ = new QLabel(this);
  problem_->setObjectName(QStringLiteral("dataProblem"));
  problem_->setWordWrap(true);
  problem_->setStyleSheet(QStringLiteral("color: #c0392b;"));
  problem_->hide();
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(info);
  layout->addWidget(problem_);
  layout->addWidget(buttons);
  resize(640, sizeHint().height());
}

QString RunDialog::dataProblem() const {
  auto check = [](const QLineEdit* e, const QString& what) -> QString {
    if (!e || !e->isEnabled()) return {};
    const QString path = e->text().trimmed();
    if (path.isEmpty()) return {};  // whether it is needed is the job's to say
    const QFileInfo fi(path);
    if (!fi.exists()) return tr("%1: %2 does not exist").arg(what, path);
    if (!fi.isDir() && !fi.isFile()) return tr("%1: %2 is not a regular file").arg(what, path);
    if (!fi.isReadable()) return tr("%1: %2 cannot be read").arg(what, path);
    if (fi.isFile() && fi.size() == 0) return tr("%1: %2 is empty").arg(what, path);
    return {};
  };
  for (const auto& [edit, what] : {std::pair{calibration_, tr("Calibration data")}, {evaluation_, tr("Evaluation data")},
                                   {evaluation_labels_, tr("Labels")}})
    if (QString why = check(edit, what); !why.isEmpty()) return why;
  return {};
}

void RunDialog::accept() {
  const QString why = dataProblem();
  problem_->setText(why);
  problem_->setVisible(!why.isEmpty());
  if (why.isEmpty()) QDialog::accept();
}

QLineEdit* RunDialog::fileField(const QString& name, const QString& path, bool images) {
  auto* edit = new QLineEdit(path, this);
  edit->setObjectName(name);
  auto* browse = new QPushButton(tr("Browse…"), this);
  connect(browse, &QPushButton::clicked, this, [this, edit, images] {
    // Where the file is, else beside the model (not the folder the program was started in).
    const QString start = edit->text().isEmpty() ? QFileInfo(base_.model_dir).absolutePath() : edit->text();
    const QString f = images ? QFileDialog::getOpenFileName(this, tr("Choose an IDX file"), start,
                                                            tr("IDX (*-ubyte *-ubyte.gz *.idx);;All files (*)"))
                             : QFileDialog::getOpenFileName(this, tr("Choose a text file"), start, tr("Text (*.txt *.jsonl);;All files (*)"));
    if (!f.isEmpty()) edit->setText(f);
  });
  withBrowse(this, edit, browse);
  return edit;
}

RunSettings RunDialog::settings() const {
  RunSettings s = base_;
  s.name = name_->text().trimmed();
  if (calibration_) {
    s.calibration = calibration_->text().trimmed();
    s.calib_samples = calib_samples_->value();
    s.seq = seq_->value();
    s.seed = seed_->value();
  }
  if (evaluate_) s.evaluate = evaluate_->isChecked();
  if (evaluation_) {
    s.evaluation = evaluation_->text().trimmed();
    s.ctx = ctx_->value();
    s.eval_windows = eval_windows_->value();
  }
  if (points_) s.points = points_->text().trimmed();
  if (evaluation_labels_) s.evaluation_labels = evaluation_labels_->text().trimmed();
  if (measure_) s.measure_samples = measure_->value();
  if (candidates_) s.candidates = candidates_->text();
  if (metric_) s.metric = metric_->currentData().toString();
  if (layers_) s.layers = layers_->text().trimmed();
  return s;
}

}  // namespace quench::gui
