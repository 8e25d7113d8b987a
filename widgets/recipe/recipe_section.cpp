#include "widgets/recipe/recipe_section.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>
#include <QVBoxLayout>

namespace quench::gui {

namespace {
void setComboData(QComboBox* combo, const std::string& value) {
  const int i = combo->findData(QString::fromStdString(value));
  if (i >= 0) combo->setCurrentIndex(i);
}
std::string comboData(const QComboBox* combo) { return combo->currentData().toString().toStdString(); }

QComboBox* choices(QWidget* parent, std::initializer_list<std::pair<const char*, QString>> items) {
  auto* c = new QComboBox(parent);
  for (const auto& [value, label] : items) c->addItem(label, QString::fromLatin1(value));
  return c;
}
}  // namespace

RecipeSection::RecipeSection(const QString& title, const char* key, QWidget* parent)
    : QGroupBox(title, parent), key_(key), mode_(new QComboBox(this)), fields_(new QWidget(this)), form_(new QFormLayout(fields_)) {
  setObjectName(QStringLiteral("section_%1").arg(QString::fromLatin1(key)));
  mode_->setObjectName(QStringLiteral("mode"));
  mode_->addItem(tr("Leave as inherited"), static_cast<int>(Mode::Inherit));
  mode_->addItem(tr("Off (keep in full precision)"), static_cast<int>(Mode::Off));
  mode_->addItem(tr("Set"), static_cast<int>(Mode::Set));
  mode_->setToolTip(tr("Inherited: what earlier rules (the default, then overrides above) set. Off: this section is switched off "
                       "for the matched layers. Set: the fields below."));
  form_->setContentsMargins(0, 0, 0, 0);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(mode_);
  layout->addWidget(fields_);
  connect(mode_, &QComboBox::currentIndexChanged, this, [this] {
    fields_->setEnabled(mode() == Mode::Set);
    if (mode() == Mode::Set) updateEnabled();
    Q_EMIT edited();
  });
  fields_->setEnabled(false);
}

RecipeSection::Mode RecipeSection::mode() const { return static_cast<Mode>(mode_->currentData().toInt()); }
void RecipeSection::setMode(Mode m) { mode_->setCurrentIndex(mode_->findData(static_cast<int>(m))); }

std::optional<nlohmann::json> RecipeSection::value() const {
  switch (mode()) {
    case Mode::Inherit: return std::nullopt;
    case Mode::Off: return nlohmann::json(nullptr);
    case Mode::Set: return fields();
  }
  return std::nullopt;
}

void RecipeSection::setValue(const nlohmann::json* section) {
  if (!section) {
    setMode(Mode::Inherit);
  } else if (section->is_null()) {
    setMode(Mode::Off);
  } else {
    if (section->is_object()) setFields(*section);
    setMode(Mode::Set);
    updateEnabled();
  }
}

void RecipeSection::addRow(const QString& label, QWidget* control) {
  form_->addRow(label, control);
  if (auto* spin = qobject_cast<QSpinBox*>(control)) connect(spin, &QSpinBox::valueChanged, this, [this] { updateEnabled(); Q_EMIT edited(); });
  if (auto* dspin = qobject_cast<QDoubleSpinBox*>(control))
    connect(dspin, &QDoubleSpinBox::valueChanged, this, [this] { Q_EMIT edited(); });
  if (auto* combo = qobject_cast<QComboBox*>(control))
    connect(combo, &QComboBox::currentIndexChanged, this, [this] { updateEnabled(); Q_EMIT edited(); });
  if (auto* check = qobject_cast<QCheckBox*>(control)) connect(check, &QCheckBox::toggled, this, [this] { updateEnabled(); Q_EMIT edited(); });
}

// ---------------------------------------------------------------------------------------------

WeightsSection::WeightsSection(QWidget* parent) : RecipeSection(tr("Weights"), "weights", parent) {
  // The block formats fix bits, symmetry and grouping (core/compress/settings.h), so those fields
  // are disabled and left out of the rule while one is chosen.
  format_ = choices(this, {{"int", tr("integers (bits, scales, groups below)")},
                           {"fp8", tr("FP8 E4M3, scale per channel or tensor")},
                           {"q8_0", tr("Q8_0 (GGUF) · 8.5 bits")},
                           {"q6_k", tr("Q6_K (GGUF) · 6.56 bits")},
                           {"q5_0", tr("Q5_0 (GGUF) · 5.5 bits")},
                           {"q5_1", tr("Q5_1 (GGUF) · 6 bits")},
                           {"q4_k", tr("Q4_K (GGUF) · 4.5 bits")},
                           {"q4_0", tr("Q4_0 (GGUF) · 4.5 bits")},
                           {"q4_1", tr("Q4_1 (GGUF) · 5 bits")},
                           {"nvfp4", tr("NVFP4, E4M3 scale per 16 · 4.5 bits")},
                           {"mxfp4", tr("MXFP4, E8M0 exponent per 32 · 4.25 bits")}});
  format_->setObjectName(QStringLiteral("format"));
  format_->setToolTip(tr("A block format quantizes onto exactly the grid the exported file stores (GGUF; NVFP4 and MXFP4 "
                         "also compressed-tensors); layers whose inputs are not whole blocks keep the float type"));
  bits_ = new QSpinBox(this);
  bits_->setObjectName(QStringLiteral("bits"));
  bits_->setRange(2, 8);
  bits_->setValue(8);
  symmetric_ = new QCheckBox(tr("symmetric"), this);
  symmetric_->setObjectName(QStringLiteral("symmetric"));
  symmetric_->setChecked(true);
  strategy_ = choices(this, {{"channel", tr("per output channel")}, {"group", tr("groups along the input")}, {"tensor", tr("per tensor")}});
  strategy_->setObjectName(QStringLiteral("strategy"));
  group_ = new QSpinBox(this);
  group_->setObjectName(QStringLiteral("groupSize"));
  group_->setRange(8, 4096);
  group_->setSingleStep(32);
  group_->setValue(128);
  group_->setToolTip(tr("Inputs per group; it must divide every matched layer's input features"));
  method_ = choices(this, {{"rtn", tr("RTN (round to nearest)")}, {"gptq", tr("GPTQ")}, {"awq", tr("AWQ")}});
  method_->setObjectName(QStringLiteral("method"));
  method_->setToolTip(tr("GPTQ and AWQ calibrate on the calibration data; RTN needs none"));
  addRow(tr("Format"), format_);
  addRow(tr("Bits"), bits_);
  addRow(QString(), symmetric_);
  addRow(tr("Scales"), strategy_);
  addRow(tr("Group size"), group_);
  addRow(tr("Method"), method_);
}

nlohmann::json WeightsSection::fields() const {
  const std::string format = comboData(format_);
  // FP8 is compressed-tensors' "type": "float"; its scales are per channel or per tensor.
  if (format == "fp8") return {{"type", "float"}, {"strategy", comboData(strategy_)}, {"method", comboData(method_)}};
  if (format != "int") return {{"format", format}, {"method", comboData(method_)}};
  nlohmann::json j = {{"bits", bits_->value()}, {"symmetric", symmetric_->isChecked()}, {"strategy", comboData(strategy_)},
                      {"method", comboData(method_)}};
  if (comboData(strategy_) == "group") j["group_size"] = group_->value();
  return j;
}

void WeightsSection::setFields(const nlohmann::json& j) {
  const bool fp8 = j.contains("type") && j["type"] == "float";
  setComboData(format_, fp8 ? "fp8" : j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "int");
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("symmetric") && j["symmetric"].is_boolean()) symmetric_->setChecked(j["symmetric"].get<bool>());
  if (j.contains("strategy") && j["strategy"].is_string()) setComboData(strategy_, j["strategy"].get<std::string>());
  if (j.contains("group_size") && j["group_size"].is_number_integer()) {
    group_->setValue(j["group_size"].get<int>());
    if (!j.contains("strategy")) setComboData(strategy_, "group");
  }
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "rtn");
}

void WeightsSection::updateEnabled() {
  const bool integers = comboData(format_) == "int", fp8 = comboData(format_) == "fp8";
  for (QWidget* w : std::initializer_list<QWidget*>{bits_, symmetric_}) w->setEnabled(integers);
  strategy_->setEnabled(integers || fp8);
  group_->setEnabled(integers && comboData(strategy_) == "group");
}

// ---------------------------------------------------------------------------------------------

ActivationsSection::ActivationsSection(QWidget* parent) : RecipeSection(tr("Input activations"), "activations", parent) {
  type_ = choices(this, {{"int", tr("integers")}, {"float", tr("FP8 E4M3 (8 bits, symmetric)")}});
  type_->setObjectName(QStringLiteral("type"));
  bits_ = new QSpinBox(this);
  bits_->setObjectName(QStringLiteral("bits"));
  bits_->setRange(2, 8);
  bits_->setValue(8);
  strategy_ = choices(this, {{"token", tr("per token (dynamic)")}, {"tensor", tr("per tensor")}});
  strategy_->setObjectName(QStringLiteral("strategy"));
  dynamic_ = new QCheckBox(tr("dynamic (scale computed at run time)"), this);
  dynamic_->setObjectName(QStringLiteral("dynamic"));
  observer_ = choices(this, {{"minmax", tr("min–max")}, {"percentile", tr("percentile")}, {"mse", tr("MSE search")}});
  observer_->setObjectName(QStringLiteral("observer"));
  observer_->setToolTip(tr("How a static scale is chosen from the calibration data"));
  percentile_ = new QDoubleSpinBox(this);
  percentile_->setRange(50, 100);
  percentile_->setDecimals(3);
  percentile_->setValue(99.99);
  addRow(tr("Type"), type_);
  addRow(tr("Bits"), bits_);
  addRow(tr("Scales"), strategy_);
  addRow(QString(), dynamic_);
  addRow(tr("Observer"), observer_);
  addRow(tr("Percentile"), percentile_);
}

nlohmann::json ActivationsSection::fields() const {
  nlohmann::json j = {{"strategy", comboData(strategy_)}};
  if (comboData(type_) == "float") j["type"] = "float";
  else j["bits"] = bits_->value();
  if (comboData(strategy_) == "token") return j;  // always dynamic
  j["dynamic"] = dynamic_->isChecked();
  if (dynamic_->isChecked()) return j;
  j["observer"] = comboData(observer_);
  if (comboData(observer_) == "percentile") j["percentile"] = percentile_->value();
  return j;
}

void ActivationsSection::setFields(const nlohmann::json& j) {
  setComboData(type_, j.contains("type") && j["type"] == "float" ? "float" : "int");
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("strategy") && j["strategy"].is_string()) setComboData(strategy_, j["strategy"].get<std::string>());
  if (j.contains("dynamic") && j["dynamic"].is_boolean()) dynamic_->setChecked(j["dynamic"].get<bool>());
  if (j.contains("observer") && j["observer"].is_string()) setComboData(observer_, j["observer"].get<std::string>());
  if (j.contains("percentile") && j["percentile"].is_number()) percentile_->setValue(j["percentile"].get<double>());
}

void ActivationsSection::updateEnabled() {
  const bool tensor = comboData(strategy_) == "tensor";
  bits_->setEnabled(comboData(type_) == "int");
  dynamic_->setEnabled(tensor);
  observer_->setEnabled(tensor && !dynamic_->isChecked());
  percentile_->setEnabled(observer_->isEnabled() && comboData(observer_) == "percentile");
}

// ---------------------------------------------------------------------------------------------

KvCacheSection::KvCacheSection(QWidget* parent) : RecipeSection(tr("KV cache (attention modules)"), "kv_cache", parent) {
  method_ = choices(this, {{"kivi", tr("KIVI (per-channel keys, per-token values)")}, {"fp8", tr("FP8 E4M3, static per tensor")}});
  method_->setObjectName(QStringLiteral("method"));
  method_->setToolTip(tr("KIVI: 2–8 bits in groups, the newest tokens in full precision. FP8: one calibrated scale for each "
                         "module's keys and one for its values, as vLLM's fp8 KV cache runs (exported as kv_cache_scheme)"));
  bits_ = new QSpinBox(this);
  bits_->setObjectName(QStringLiteral("bits"));
  bits_->setRange(2, 8);
  bits_->setValue(2);
  group_ = new QSpinBox(this);
  group_->setObjectName(QStringLiteral("groupSize"));
  group_->setRange(1, 1024);
  group_->setValue(32);
  residual_ = new QSpinBox(this);
  residual_->setObjectName(QStringLiteral("residual"));
  residual_->setRange(0, 65536);
  residual_->setValue(128);
  residual_->setToolTip(tr("Newest tokens kept in full precision; a multiple of the group size"));
  addRow(tr("Method"), method_);
  addRow(tr("Bits"), bits_);
  addRow(tr("Group size"), group_);
  addRow(tr("Residual tokens"), residual_);
}

nlohmann::json KvCacheSection::fields() const {
  if (comboData(method_) == "fp8") return {{"method", "fp8"}};
  return {{"method", "kivi"}, {"bits", bits_->value()}, {"group_size", group_->value()}, {"residual", residual_->value()}};
}

void KvCacheSection::updateEnabled() {
  const bool kivi = comboData(method_) == "kivi";
  for (QSpinBox* b : {bits_, group_, residual_}) b->setEnabled(kivi);
}

void KvCacheSection::setFields(const nlohmann::json& j) {
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : std::string("kivi"));
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("group_size") && j["group_size"].is_number_integer()) group_->setValue(j["group_size"].get<int>());
  if (j.contains("residual") && j["residual"].is_number_integer()) residual_->setValue(j["residual"].get<int>());
}

std::vector<RecipeSection*> makeRecipeSections(QWidget* parent) {
  return {new WeightsSection(parent), new ActivationsSection(parent), new KvCacheSection(parent)};
}

}  // namespace quench::gui
