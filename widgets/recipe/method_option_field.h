#pragma once
// One method's option (a weight, pruning or low-rank method's) as a field of the recipe editor, made from
// the option's declaration in the method's file (core/compress/method_option.h), so a new method's options appear in the
// editor without code here: a check box, a spin box or a list, named after the key in camelCase
// ("act_order" → "actOrder") for tests and the accessibility tree.
#include <QString>
#include <QWidget>

#include <nlohmann/json.hpp>

#include "core/compress/method_option.h"

namespace quench::gui {

class MethodOptionField {
 public:
  MethodOptionField(const MethodOption& option, QWidget* parent);

  const MethodOption& option() const { return *option_; }
  QWidget* widget() const { return widget_; }
  // The form's row label; empty for a check box, whose own text says what it is.
  QString rowLabel() const;
  nlohmann::json value() const;
  // Shows `v`, or the default when `v` is missing or of another type.
  void setValue(const nlohmann::json& v);
  bool isDefault() const;

 private:
  const MethodOption* option_;
  QWidget* widget_;
};

}  // namespace quench::gui
