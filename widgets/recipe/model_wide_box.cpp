#include "widgets/recipe/model_wide_box.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>

#include "core/compress/recipe.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_edits.h"

namespace quench::gui {

namespace {
QDoubleSpinBox* fractionBox(double lo, double hi, double value, const char* name, QWidget* parent) {
  auto* b = new QDoubleSpinBox(parent);
  b->setObjectName(QString::fromLatin1(name));
  b->setRange(lo, hi);
  b->setDecimals(2);
  b->setSingleStep(0.05);
  b->setValue(value);
  // One edit per finished value, not one per keystroke.
  b->setKeyboardTracking(false);
  return b;
}
}  // namespace

ModelWideBox::ModelWideBox(RecipeDocument& doc, QWidget* parent) : QGroupBox(tr("Model-wide"), parent), doc_(doc) {
  setObjectName(QStringLiteral("modelWide"));
  smoothquant_ = new QCheckBox(tr("SmoothQuant"), this);
  smoothquant_->setObjectName(QStringLiteral("smoothquant"));
  smoothquant_->setToolTip(tr("Migrates activation outliers into the weights (norm → linear pairs) before quantization; needs calibration data"));
  alpha_ = fractionBox(0.0, 1.0, 0.5, "smoothquantAlpha", this);
  alpha_->setToolTip(tr("Migration strength: 0 leaves the activations alone, 1 moves all of their range into the weights"));

  flap_ = new QCheckBox(tr("Structured pruning (FLAP)"), this);
  flap_->setObjectName(QStringLiteral("flap"));
  flap_->setToolTip(tr("Removes whole MLP channels and attention head groups before everything else, on the float model (Llama, Qwen2, Qwen3, Mistral)"));
  ratio_ = fractionBox(0.01, 0.99, 0.2, "flapRatio", this);
  ratio_->setToolTip(tr("The fraction of the targeted layers' parameters removed"));
  target_ = new QComboBox(this);
  target_->setObjectName(QStringLiteral("flapTarget"));
  target_->addItem(tr("MLP channels"), QStringLiteral("mlp"));
  target_->addItem(tr("attention heads"), QStringLiteral("heads"));
  target_->addItem(tr("MLP + heads"), QStringLiteral("mlp+heads"));
  adaptive_ = new QCheckBox(tr("Adaptive"), this);
  adaptive_->setObjectName(QStringLiteral("flapAdaptive"));
  adaptive_->setToolTip(tr("All layers compete for one threshold, so layers lose different amounts; off: every layer loses the ratio"));
  bias_ = new QCheckBox(tr("Bias compensation"), this);
  bias_->setObjectName(QStringLiteral("flapBias"));
  bias_->setToolTip(tr("The removed channels' mean contribution becomes a bias of down_proj / o_proj"));
  note_ = new QLabel(tr("FLAP runs first and picks channels on the calibration data: the size estimate counts it after the run."), this);
  note_->setWordWrap(true);
  note_->setStyleSheet(QStringLiteral("color: palette(mid);"));

  repq_ = new QCheckBox(tr("RepQ-ViT reparameterization"), this);
  repq_->setObjectName(QStringLiteral("repq"));
  repq_tip_ = tr("Folds each post-LayerNorm channel's range into one per-tensor scale (ViT), exact in float; "
                 "for layers that quantize their input");
  quamba2_ = new QCheckBox(tr("Quamba2 reordering"), this);
  quamba2_->setObjectName(QStringLiteral("quamba2"));
  quamba2_tip_ = tr("Sorts and clusters each Mamba-2 mixer's heads and channels, reorders them offline (exact in float) "
                    "and gives the scan input, B and C grouped scales");

  auto* g = new QGridLayout(this);
  g->addWidget(smoothquant_, 0, 0);
  g->addWidget(new QLabel(tr("alpha"), this), 0, 1, Qt::AlignRight);
  g->addWidget(alpha_, 0, 2);
  g->addWidget(flap_, 1, 0);
  g->addWidget(new QLabel(tr("ratio"), this), 1, 1, Qt::AlignRight);
  g->addWidget(ratio_, 1, 2);
  g->addWidget(target_, 2, 0);
  auto* flags = new QHBoxLayout();
  flags->addWidget(adaptive_);
  flags->addWidget(bias_);
  flags->addStretch(1);
  g->addLayout(flags, 2, 1, 1, 3);
  g->addWidget(note_, 3, 0, 1, 4);
  auto* steps = new QHBoxLayout();
  steps->addWidget(repq_);
  steps->addWidget(quamba2_);
  steps->addStretch(1);
  g->addLayout(steps, 4, 0, 1, 4);
  g->setColumnStretch(3, 1);

  connect(smoothquant_, &QCheckBox::toggled, this, &ModelWideBox::editSmoothQuant);
  connect(alpha_, &QDoubleSpinBox::valueChanged, this, &ModelWideBox::editSmoothQuant);
  connect(flap_, &QCheckBox::toggled, this, &ModelWideBox::editStructured);
  connect(ratio_, &QDoubleSpinBox::valueChanged, this, &ModelWideBox::editStructured);
  connect(target_, &QComboBox::currentIndexChanged, this, &ModelWideBox::editStructured);
  connect(adaptive_, &QCheckBox::toggled, this, &ModelWideBox::editStructured);
  connect(bias_, &QCheckBox::toggled, this, &ModelWideBox::editStructured);
  connect(repq_, &QCheckBox::toggled, this, [this](bool on) { editFlag("repq", on, on ? tr("RepQ-ViT on") : tr("RepQ-ViT off")); });
  connect(quamba2_, &QCheckBox::toggled, this, [this](bool on) { editFlag("quamba2", on, on ? tr("Quamba2 reordering on") : tr("Quamba2 reordering off")); });
  connect(&doc_, &RecipeDocument::changed, this, &ModelWideBox::refresh);
  refresh();
}

void ModelWideBox::editSmoothQuant() {
  const nlohmann::json& j = doc_.json();
  nlohmann::json value;  // null: off
  if (smoothquant_->isChecked()) {
    value = j.contains("smoothquant") && j["smoothquant"].is_object() ? j["smoothquant"] : nlohmann::json::object();
    value["alpha"] = alpha_->value();
  }
  const bool was = j.contains("smoothquant");
  doc_.change(withModelWide(j, "smoothquant", value),
              !value.is_null() && was ? tr("Change SmoothQuant alpha") : value.is_null() ? tr("SmoothQuant off") : tr("SmoothQuant on"));
}

void ModelWideBox::editStructured() {
  const nlohmann::json& j = doc_.json();
  nlohmann::json value;
  if (flap_->isChecked()) {
    // Keys without a control here (metric, align) stay as the recipe has them.
    value = j.contains("structured") && j["structured"].is_object() ? j["structured"] : nlohmann::json::object();
    value["method"] = "flap";
    value["ratio"] = ratio_->value();
    value["target"] = target_->currentData().toString().toStdString();
    value["adaptive"] = adaptive_->isChecked();
    value["bias_compensation"] = bias_->isChecked();
  }
  const bool was = j.contains("structured");
  doc_.change(withModelWide(j, "structured", value), !value.is_null() && was ? tr("Change structured pruning")
                                                     : value.is_null()       ? tr("Structured pruning off")
                                                                             : tr("Structured pruning on"));
}

void ModelWideBox::editFlag(const char* key, bool on, const QString& what) {
  doc_.change(withModelWide(doc_.json(), key, on ? nlohmann::json(true) : nlohmann::json()), what);
}

void ModelWideBox::refresh() {
  const nlohmann::json& j = doc_.json();
  // Shows the recipe without writing it back: these setters must not make edits.
  const QSignalBlocker b1(smoothquant_), b2(alpha_), b3(flap_), b4(ratio_), b5(target_), b6(adaptive_), b7(bias_), b8(repq_), b9(quamba2_);
  // A step the recipe's preset turns on shows as on, and as the preset's rather than the user's to untick.
  const ResolvedRecipe* plan = doc_.plan();
  const bool preset = j.contains("preset") && j["preset"].is_string();
  auto show = [&](QCheckBox* box, const char* key, bool in_plan, const QString& tip) {
    const bool own = j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
    const bool from_preset = !own && preset && in_plan;
    box->setChecked(own || from_preset);
    box->setEnabled(!from_preset);
    box->setToolTip(from_preset ? tr("On through the preset \"%1\"").arg(QString::fromStdString(j["preset"].get<std::string>())) : tip);
  };
  show(repq_, "repq", plan && plan->repq, repq_tip_);
  show(quamba2_, "quamba2", plan && plan->quamba2, quamba2_tip_);
  const bool sq = j.contains("smoothquant") && !j["smoothquant"].is_null();
  smoothquant_->setChecked(sq);
  if (sq && j["smoothquant"].is_object()) alpha_->setValue(j["smoothquant"].value("alpha", 0.5));
  alpha_->setEnabled(sq);
  const bool st = j.contains("structured") && !j["structured"].is_null();
  flap_->setChecked(st);
  if (st && j["structured"].is_object()) {
    const nlohmann::json& s = j["structured"];
    // A value of the wrong type is the parser's to report (the document's error); show the default.
    auto num = [&](const char* k, double d) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : d; };
    auto flag = [&](const char* k, bool d) { return s.contains(k) && s[k].is_boolean() ? s[k].get<bool>() : d; };
    ratio_->setValue(num("ratio", 0.2));
    const std::string t = s.contains("target") && s["target"].is_string() ? s["target"].get<std::string>() : "mlp";
    const int i = target_->findData(QString::fromStdString(t));
    target_->setCurrentIndex(i >= 0 ? i : 0);
    adaptive_->setChecked(flag("adaptive", true));
    bias_->setChecked(flag("bias_compensation", true));
  } else if (!st) {
    adaptive_->setChecked(true);
    bias_->setChecked(true);
  }
  for (QWidget* w : {static_cast<QWidget*>(ratio_), static_cast<QWidget*>(target_), static_cast<QWidget*>(adaptive_), static_cast<QWidget*>(bias_)})
    w->setEnabled(st);
  note_->setVisible(st);
}

}  // namespace quench::gui
