#include "widgets/recipe/recipe_section.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/compress/lowrank_method.h"
#include "core/compress/prune_method.h"
#include "core/compress/weight_method.h"
#include "widgets/util/form_fields.h"

namespace quench::gui {

namespace {
void setComboData(QComboBox* combo, const std::string& value) {
  const int i = combo->findData(QString::fromStdString(value));
  if (i >= 0) combo->setCurrentIndex(i);
}
std::string comboData(const QComboBox* combo) { return combo->currentData().toString().toStdString(); }

// Whether the low-rank method can size its rank by singular-value energy (its file says).
bool byEnergy(const std::string& method) {
  const LowRankMethodInfo* m = find_lowrank_method(method);
  return m && m->by_energy;
}

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
                           {"olive", tr("OliVe 4-bit outlier-victim pairs, scale per channel or tensor")},
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
  bits_ = spinBox(this, "bits", 2, 8, 8);
  symmetric_ = new QCheckBox(tr("symmetric"), this);
  symmetric_->setObjectName(QStringLiteral("symmetric"));
  symmetric_->setChecked(true);
  strategy_ = choices(this, {{"channel", tr("per output channel")}, {"group", tr("groups along the input")}, {"tensor", tr("per tensor")}});
  strategy_->setObjectName(QStringLiteral("strategy"));
  group_ = spinBox(this, "groupSize", 8, 4096, 128, tr("Inputs per group; it must divide every matched layer's input features"));
  group_->setSingleStep(32);
  group_fallback_ = new QCheckBox(tr("where it does not divide a layer's inputs, the largest divisor below"), this);
  group_fallback_->setObjectName(QStringLiteral("groupFallback"));
  group_fallback_->setToolTip(tr("group_fallback: the schemes (W4A16-G128, …) set it; without it such a layer is an error"));
  method_ = new QComboBox(this);
  for (const WeightMethodInfo* m : weight_methods()) method_->addItem(tr(m->title), QString::fromLatin1(m->name));
  method_->setObjectName(QStringLiteral("method"));
  QStringList calibrated, plain;
  for (const WeightMethodInfo* m : weight_methods()) (m->data == MethodData::None ? plain : calibrated) << QString::fromLatin1(m->name).toUpper();
  method_->setToolTip(tr("Calibrated on the calibration data: %1. Data-free: %2.").arg(calibrated.join(QStringLiteral(", ")), plain.join(QStringLiteral(", "))));
  for (const WeightMethodInfo* m : weight_methods())
    for (const MethodOption& o : m->options)
      if (std::none_of(options_.begin(), options_.end(), [&](const MethodOptionField& f) { return f.option().key == o.key; }))
        options_.emplace_back(o, this);
  addRow(tr("Format"), format_);
  addRow(tr("Bits"), bits_);
  addRow(QString(), symmetric_);
  addRow(tr("Scales"), strategy_);
  addRow(tr("Group size"), group_);
  addRow(QString(), group_fallback_);
  addRow(tr("Method"), method_);
  for (const MethodOptionField& f : options_) addRow(f.rowLabel(), f.widget());
}

namespace {
// The grid a weights rule describes (weight_method.h's GridKind), for the options that apply to some only.
unsigned gridOf(const std::string& format) {
  return format == "int" ? kIntGrid : format == "fp8" ? kFp8Grid : format == "olive" ? kOliveGrid : kGgmlGrid;
}
}  // namespace

nlohmann::json WeightsSection::fields() const {
  const std::string format = comboData(format_), method = comboData(method_);
  nlohmann::json j;
  // FP8 is compressed-tensors' "type": "float"; its scales are per channel or per tensor.
  if (format == "fp8") j = {{"type", "float"}, {"strategy", comboData(strategy_)}, {"method", method}};
  else if (format == "olive") j = {{"type", "olive"}, {"strategy", comboData(strategy_)}, {"method", method}};
  else if (format != "int") j = {{"format", format}, {"method", method}};
  else {
    j = {{"bits", bits_->value()}, {"symmetric", symmetric_->isChecked()}, {"strategy", comboData(strategy_)}, {"method", method}};
    if (comboData(strategy_) == "group") j["group_size"] = group_->value();
    if (comboData(strategy_) == "group" && group_fallback_->isChecked()) j["group_fallback"] = true;
  }
  // The method's options that differ from their defaults (FP8 and OliVe have no clip option).
  const WeightMethodInfo* info = find_weight_method(method);
  for (const MethodOptionField& f : options_)
    if (info && info->option(f.option().key) && (f.option().grids & gridOf(format)) && !f.isDefault()) j[f.option().key] = f.value();
  return j;
}

void WeightsSection::setFields(const nlohmann::json& j) {
  const bool fp8 = j.contains("type") && j["type"] == "float", olive = j.contains("type") && j["type"] == "olive";
  setComboData(format_, fp8 ? "fp8" : olive ? "olive" : j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "int");
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("symmetric") && j["symmetric"].is_boolean()) symmetric_->setChecked(j["symmetric"].get<bool>());
  if (j.contains("strategy") && j["strategy"].is_string()) setComboData(strategy_, j["strategy"].get<std::string>());
  if (j.contains("group_size") && j["group_size"].is_number_integer()) {
    group_->setValue(j["group_size"].get<int>());
    if (!j.contains("strategy")) setComboData(strategy_, "group");
  }
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "rtn");
  group_fallback_->setChecked(j.contains("group_fallback") && j["group_fallback"].is_boolean() && j["group_fallback"].get<bool>());
  // Options a rule leaves out are the defaults, not what the form showed for the rule before.
  for (MethodOptionField& f : options_) f.setValue(j.contains(f.option().key) ? j[f.option().key] : nlohmann::json());
}

void WeightsSection::updateEnabled() {
  const std::string format = comboData(format_), method = comboData(method_);
  const bool integers = format == "int", fp8 = format == "fp8" || format == "olive";  // fp8: a grid of its own with channel or tensor scales
  for (QWidget* w : std::initializer_list<QWidget*>{bits_, symmetric_}) w->setEnabled(integers);
  strategy_->setEnabled(integers || fp8);
  group_->setEnabled(integers && comboData(strategy_) == "group");
  group_fallback_->setEnabled(integers && comboData(strategy_) == "group");
  const WeightMethodInfo* info = find_weight_method(method);
  for (const MethodOptionField& f : options_)
    f.widget()->setEnabled(info && info->option(f.option().key) && (f.option().grids & gridOf(format)));
}

// ---------------------------------------------------------------------------------------------

ActivationsSection::ActivationsSection(QWidget* parent) : RecipeSection(tr("Input activations"), "activations", parent) {
  type_ = choices(this, {{"int", tr("integers")},
                         {"float", tr("FP8 E4M3 (8 bits, symmetric)")},
                         {"mxfp4", tr("MXFP4 (E2M1, power-of-two scale per 32 channels)")},
                         {"nvfp4", tr("NVFP4 (E2M1, E4M3 scale per 16 channels)")}});
  type_->setObjectName(QStringLiteral("type"));
  type_->setToolTip(tr("MXFP4 and NVFP4 scale every token's blocks at run time, as W4A4 runs; layers whose inputs are not "
                       "whole blocks keep float activations"));
  bits_ = spinBox(this, "bits", 2, 8, 8);
  strategy_ = choices(this, {{"token", tr("per token (dynamic)")}, {"tensor", tr("per tensor")}});
  strategy_->setObjectName(QStringLiteral("strategy"));
  dynamic_ = new QCheckBox(tr("dynamic (scale computed at run time)"), this);
  dynamic_->setObjectName(QStringLiteral("dynamic"));
  observer_ = choices(this, {{"minmax", tr("min–max")}, {"percentile", tr("percentile")}, {"mse", tr("MSE search")}});
  observer_->setObjectName(QStringLiteral("observer"));
  observer_->setToolTip(tr("How a static scale is chosen from the calibration data"));
  percentile_ = doubleSpinBox(this, "percentile", 50, 100, 3, 1, 99.99);
  addRow(tr("Type"), type_);
  addRow(tr("Bits"), bits_);
  addRow(tr("Scales"), strategy_);
  addRow(QString(), dynamic_);
  addRow(tr("Observer"), observer_);
  addRow(tr("Percentile"), percentile_);
}

nlohmann::json ActivationsSection::fields() const {
  const std::string type = comboData(type_);
  if (type == "mxfp4" || type == "nvfp4") return {{"format", type}};  // the format decides everything else
  nlohmann::json j = {{"strategy", comboData(strategy_)}};
  if (type == "float") j["type"] = "float";
  else j["bits"] = bits_->value();
  if (comboData(strategy_) == "token") return j;  // always dynamic
  j["dynamic"] = dynamic_->isChecked();
  if (dynamic_->isChecked()) return j;
  j["observer"] = comboData(observer_);
  if (comboData(observer_) == "percentile") j["percentile"] = percentile_->value();
  return j;
}

void ActivationsSection::setFields(const nlohmann::json& j) {
  if (j.contains("format") && j["format"].is_string()) setComboData(type_, j["format"].get<std::string>());
  else setComboData(type_, j.contains("type") && j["type"] == "float" ? "float" : "int");
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("strategy") && j["strategy"].is_string()) setComboData(strategy_, j["strategy"].get<std::string>());
  if (j.contains("dynamic") && j["dynamic"].is_boolean()) dynamic_->setChecked(j["dynamic"].get<bool>());
  if (j.contains("observer") && j["observer"].is_string()) setComboData(observer_, j["observer"].get<std::string>());
  if (j.contains("percentile") && j["percentile"].is_number()) percentile_->setValue(j["percentile"].get<double>());
}

void ActivationsSection::updateEnabled() {
  const std::string type = comboData(type_);
  const bool fp4 = type == "mxfp4" || type == "nvfp4", tensor = !fp4 && comboData(strategy_) == "tensor";
  bits_->setEnabled(type == "int");
  strategy_->setEnabled(!fp4);
  dynamic_->setEnabled(tensor);
  observer_->setEnabled(tensor && !dynamic_->isChecked());
  percentile_->setEnabled(observer_->isEnabled() && comboData(observer_) == "percentile");
}

// ---------------------------------------------------------------------------------------------

KvCacheSection::KvCacheSection(QWidget* parent) : RecipeSection(tr("KV cache (attention modules)"), "kv_cache", parent) {
  method_ = choices(this, {{"kivi", tr("KIVI (per-channel keys, per-token values)")},
                           {"zipcache", tr("ZipCache (salient tokens at more bits)")},
                           {"fp8", tr("FP8 E4M3, static per tensor")},
                           {"mxfp4", tr("MXFP4 (E2M1, power-of-two scale per 32 channels)")},
                           {"nvfp4", tr("NVFP4 (E2M1, E4M3 scale per 16 channels)")}});
  method_->setObjectName(QStringLiteral("method"));
  method_->setToolTip(tr("KIVI: 2–8 bits in groups, the newest tokens in full precision. ZipCache: the tokens that receive "
                         "the most attention (normalized by how many queries see them) at more bits, the rest at fewer. FP8: one "
                         "calibrated scale for each module's keys and one for its values, as vLLM's fp8 KV cache runs (exported as "
                         "kv_cache_scheme). MXFP4 / NVFP4: every token's keys and values in 4-bit float blocks within each head"));
  bits_ = spinBox(this, "bits", 2, 8, 2, tr("KIVI: every quantized token; ZipCache: the tokens that are not salient"));
  group_ = spinBox(this, "groupSize", 1, 1024, 32);
  residual_ = spinBox(this, "residual", 0, 65536, 128, tr("Newest tokens kept in full precision; a multiple of the group size"));
  high_bits_ = spinBox(this, "highBits", 2, 8, 4, tr("ZipCache: bits of the salient tokens"));
  salient_ = doubleSpinBox(this, "salient", 0, 1, 3, 0.05, 0.4, tr("ZipCache: share of each sequence's tokens kept at the higher bits"));
  addRow(tr("Method"), method_);
  addRow(tr("Bits"), bits_);
  addRow(tr("Group size"), group_);
  addRow(tr("Residual tokens"), residual_);
  addRow(tr("Salient bits"), high_bits_);
  addRow(tr("Salient share"), salient_);
}

nlohmann::json KvCacheSection::fields() const {
  const std::string method = comboData(method_);
  if (method == "fp8" || method == "mxfp4" || method == "nvfp4") return {{"method", method}};  // nothing else to set
  if (method == "zipcache")
    return {{"method", "zipcache"}, {"bits", bits_->value()}, {"high_bits", high_bits_->value()}, {"salient", salient_->value()},
            {"group_size", group_->value()}};
  return {{"method", "kivi"}, {"bits", bits_->value()}, {"group_size", group_->value()}, {"residual", residual_->value()}};
}

void KvCacheSection::updateEnabled() {
  const std::string method = comboData(method_);
  for (QSpinBox* b : {bits_, group_}) b->setEnabled(method == "kivi" || method == "zipcache");
  residual_->setEnabled(method == "kivi");
  high_bits_->setEnabled(method == "zipcache");
  salient_->setEnabled(method == "zipcache");
}

void KvCacheSection::setFields(const nlohmann::json& j) {
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : std::string("kivi"));
  if (j.contains("bits") && j["bits"].is_number_integer()) bits_->setValue(j["bits"].get<int>());
  if (j.contains("group_size") && j["group_size"].is_number_integer()) group_->setValue(j["group_size"].get<int>());
  if (j.contains("residual") && j["residual"].is_number_integer()) residual_->setValue(j["residual"].get<int>());
  high_bits_->setValue(j.contains("high_bits") && j["high_bits"].is_number_integer() ? j["high_bits"].get<int>() : 4);
  salient_->setValue(j.contains("salient") && j["salient"].is_number() ? j["salient"].get<double>() : 0.4);
}

// ---------------------------------------------------------------------------------------------

PruneSection::PruneSection(QWidget* parent) : RecipeSection(tr("Pruning"), "prune", parent) {
  method_ = new QComboBox(this);
  for (const PruneMethodInfo* m : prune_methods()) method_->addItem(tr(m->title), QString::fromLatin1(m->name));
  method_->setObjectName(QStringLiteral("method"));
  kind_ = choices(this, {{"pattern", tr("N:M, keep N of every M inputs")}, {"sparsity", tr("unstructured fraction")}});
  kind_->setObjectName(QStringLiteral("kind"));
  kind_->setToolTip(tr("N:M (2:4 runs on sparse tensor cores and exports as sparse-24-bitmask); a fraction zeroes that share "
                       "of each matrix anywhere"));
  n_ = spinBox(this, "n", 1, 64, 2);
  n_->setPrefix(tr("keep "));
  m_ = spinBox(this, "m", 1, 64, 4);
  m_->setPrefix(tr("of every "));
  m_->setToolTip(tr("M must divide every matched layer's inputs"));
  sparsity_ = doubleSpinBox(this, "sparsity", 0, 0.999, 3, 0.05, 0.5, tr("The fraction of the weights set to zero"));
  for (const PruneMethodInfo* m : prune_methods())
    for (const MethodOption& o : m->options)
      if (std::none_of(options_.begin(), options_.end(), [&](const MethodOptionField& f) { return f.option().key == o.key; }))
        options_.emplace_back(o, this);
  addRow(tr("Method"), method_);
  addRow(tr("Pattern"), kind_);
  addRow(tr("N"), n_);
  addRow(tr("M"), m_);
  addRow(tr("Sparsity"), sparsity_);
  for (const MethodOptionField& f : options_) addRow(f.rowLabel(), f.widget());
}

nlohmann::json PruneSection::fields() const {
  nlohmann::json j = {{"method", comboData(method_)}};
  if (comboData(kind_) == "pattern") j["pattern"] = std::to_string(n_->value()) + ":" + std::to_string(m_->value());
  else j["sparsity"] = sparsity_->value();
  // The method's options that differ from their defaults.
  const PruneMethodInfo* info = find_prune_method(comboData(method_));
  for (const MethodOptionField& f : options_)
    if (info && info->option(f.option().key) && !f.isDefault()) j[f.option().key] = f.value();
  return j;
}

void PruneSection::setFields(const nlohmann::json& j) {
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "magnitude");
  const std::string pattern = j.contains("pattern") && j["pattern"].is_string() ? j["pattern"].get<std::string>() : "";
  if (const auto colon = pattern.find(':'); colon != std::string::npos) {
    setComboData(kind_, "pattern");
    // M first: N's maximum follows M (a 2:4 rule shown before an 8:16 one would clamp N to 4).
    m_->setValue(std::atoi(pattern.substr(colon + 1).c_str()));
    n_->setMaximum(m_->value());
    n_->setValue(std::atoi(pattern.substr(0, colon).c_str()));
  }
  if (j.contains("sparsity") && j["sparsity"].is_number()) {
    setComboData(kind_, "sparsity");
    sparsity_->setValue(j["sparsity"].get<double>());
  }
  for (MethodOptionField& f : options_) f.setValue(j.contains(f.option().key) ? j[f.option().key] : nlohmann::json());
}

void PruneSection::updateEnabled() {
  const bool pattern = comboData(kind_) == "pattern";
  n_->setEnabled(pattern);
  m_->setEnabled(pattern);
  n_->setMaximum(m_->value());  // N kept of M: never more than M
  sparsity_->setEnabled(!pattern);
  const PruneMethodInfo* info = find_prune_method(comboData(method_));
  for (const MethodOptionField& f : options_) f.widget()->setEnabled(info && info->option(f.option().key));
}

// ---------------------------------------------------------------------------------------------

LowRankSection::LowRankSection(QWidget* parent) : RecipeSection(tr("Low rank (Linear layers)"), "lowrank", parent) {
  method_ = new QComboBox(this);
  for (const LowRankMethodInfo* m : lowrank_methods()) method_->addItem(tr(m->title), QString::fromLatin1(m->name));
  method_->setObjectName(QStringLiteral("method"));
  method_->setToolTip(tr("W [out, in] becomes A [out, r] · B [r, in]"));
  by_ = choices(this, {{"ratio", tr("kept share of the parameters")}, {"rank", tr("rank r")}, {"energy", tr("singular-value energy (SVD)")}});
  by_->setObjectName(QStringLiteral("by"));
  rank_ = spinBox(this, "rank", 1, 65536, 64, tr("At most min(out, in) of every matched layer"));
  ratio_ = doubleSpinBox(this, "ratio", 0.01, 1, 2, 0.05, 0.5, tr("r = ⌊ρ · out · in / (out + in)⌋: the same size whatever the method"));
  energy_ = doubleSpinBox(this, "energy", 0.01, 1, 3, 0.01, 0.95, tr("The smallest rank whose σ₁² + … + σ_r² reaches this share of Σσ²"));
  for (const LowRankMethodInfo* m : lowrank_methods())
    for (const MethodOption& o : m->options)
      if (std::none_of(options_.begin(), options_.end(), [&](const MethodOptionField& f) { return f.option().key == o.key; }))
        options_.emplace_back(o, this);
  addRow(tr("Method"), method_);
  addRow(tr("Size by"), by_);
  addRow(tr("Rank"), rank_);
  addRow(tr("Ratio"), ratio_);
  addRow(tr("Energy"), energy_);
  for (const MethodOptionField& f : options_) addRow(f.rowLabel(), f.widget());
}

nlohmann::json LowRankSection::fields() const {
  const std::string method = comboData(method_), by = comboData(by_);
  nlohmann::json j = {{"method", method}};
  if (by == "rank") j["rank"] = rank_->value();
  else if (by == "energy" && byEnergy(method)) j["energy"] = energy_->value();
  else j["ratio"] = ratio_->value();
  const LowRankMethodInfo* info = find_lowrank_method(method);
  for (const MethodOptionField& f : options_)
    if (info && info->option(f.option().key) && !f.isDefault()) j[f.option().key] = f.value();
  return j;
}

void LowRankSection::setFields(const nlohmann::json& j) {
  setComboData(method_, j.contains("method") && j["method"].is_string() ? j["method"].get<std::string>() : "svd");
  if (j.contains("rank") && j["rank"].is_number_integer()) setComboData(by_, "rank"), rank_->setValue(j["rank"].get<int>());
  if (j.contains("ratio") && j["ratio"].is_number()) setComboData(by_, "ratio"), ratio_->setValue(j["ratio"].get<double>());
  if (j.contains("energy") && j["energy"].is_number()) setComboData(by_, "energy"), energy_->setValue(j["energy"].get<double>());
  for (MethodOptionField& f : options_) f.setValue(j.contains(f.option().key) ? j[f.option().key] : nlohmann::json());
}

void LowRankSection::updateEnabled() {
  const std::string method = comboData(method_), by = comboData(by_);
  // Energy needs the SVD before calibration decides anything: plain SVD only (the recipe refuses it otherwise).
  if (by == "energy" && !byEnergy(method)) setComboData(by_, "ratio");
  const std::string now = comboData(by_);
  rank_->setEnabled(now == "rank");
  ratio_->setEnabled(now == "ratio");
  energy_->setEnabled(now == "energy");
  const LowRankMethodInfo* info = find_lowrank_method(method);
  for (const MethodOptionField& f : options_) f.widget()->setEnabled(info && info->option(f.option().key));
}

std::vector<RecipeSection*> makeRecipeSections(QWidget* parent) {
  return {new WeightsSection(parent), new ActivationsSection(parent), new KvCacheSection(parent), new PruneSection(parent),
          new LowRankSection(parent)};
}

}  // namespace quench::gui
