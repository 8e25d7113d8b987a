#include "widgets/recipe/method_option_field.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QSpinBox>

#include <algorithm>
#include <cmath>

#include "widgets/util/form_fields.h"

namespace quench::gui {

namespace {
std::string camel_case(const std::string& key) {
  std::string out;
  bool upper = false;
  for (char c : key) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}
}  // namespace

MethodOptionField::MethodOptionField(const MethodOption& o, QWidget* parent) : option_(&o) {
  const std::string name = camel_case(o.key);
  const QString help = QString::fromStdString(o.help);
  switch (o.kind) {
    case MethodOption::Kind::Flag: {
      auto* box = new QCheckBox(QString::fromStdString(o.label), parent);
      box->setObjectName(QString::fromStdString(name));
      box->setToolTip(help);
      widget_ = box;
      break;
    }
    case MethodOption::Kind::Integer: {
      // An option without an upper bound still needs one in a spin box.
      const double hi = o.max > 0 ? std::min(o.max, 1e6) : 65536.0;
      widget_ = spinBox(parent, name.c_str(), static_cast<int>(o.min), static_cast<int>(hi), o.fallback.get<int>(), help);
      break;
    }
    case MethodOption::Kind::Number: {
      const int decimals = std::max(2, static_cast<int>(std::ceil(-std::log10(o.step))) + 1);
      widget_ = doubleSpinBox(parent, name.c_str(), o.min, o.max, decimals, o.step, o.fallback.get<double>(), help);
      break;
    }
    case MethodOption::Kind::Choice: {
      auto* combo = new QComboBox(parent);
      for (const auto& [value, label] : o.choices) combo->addItem(QString::fromStdString(label), QString::fromStdString(value));
      combo->setObjectName(QString::fromStdString(name));
      combo->setToolTip(help);
      widget_ = combo;
      break;
    }
  }
  setValue(nullptr);
}

QString MethodOptionField::rowLabel() const { return option_->kind == MethodOption::Kind::Flag ? QString() : QString::fromStdString(option_->label); }

nlohmann::json MethodOptionField::value() const {
  switch (option_->kind) {
    case MethodOption::Kind::Flag: return static_cast<QCheckBox*>(widget_)->isChecked();
    case MethodOption::Kind::Integer: return static_cast<QSpinBox*>(widget_)->value();
    case MethodOption::Kind::Number: return static_cast<QDoubleSpinBox*>(widget_)->value();
    case MethodOption::Kind::Choice: return static_cast<QComboBox*>(widget_)->currentData().toString().toStdString();
  }
  return nullptr;
}

void MethodOptionField::setValue(const nlohmann::json& v) {
  const nlohmann::json& fb = option_->fallback;
  switch (option_->kind) {
    case MethodOption::Kind::Flag: static_cast<QCheckBox*>(widget_)->setChecked(v.is_boolean() ? v.get<bool>() : fb.get<bool>()); break;
    case MethodOption::Kind::Integer:
      static_cast<QSpinBox*>(widget_)->setValue(v.is_number_integer() ? v.get<int>() : fb.get<int>());
      break;
    case MethodOption::Kind::Number:
      static_cast<QDoubleSpinBox*>(widget_)->setValue(v.is_number() ? v.get<double>() : fb.get<double>());
      break;
    case MethodOption::Kind::Choice: {
      auto* combo = static_cast<QComboBox*>(widget_);
      const int i = combo->findData(QString::fromStdString(v.is_string() ? v.get<std::string>() : fb.get<std::string>()));
      if (i >= 0) combo->setCurrentIndex(i);
      break;
    }
  }
}

bool MethodOptionField::isDefault() const {
  if (option_->kind == MethodOption::Kind::Number) return std::abs(value().get<double>() - option_->fallback.get<double>()) <= 1e-9;
  return value() == option_->fallback;
}

}  // namespace quench::gui
