#include "core/compress/weight_method.h"

#include "core/compress/method_registry.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_WEIGHT_METHOD lines of the method files.
std::vector<const WeightMethodInfo*> registered_weight_methods();

const std::vector<const WeightMethodInfo*>& weight_methods() {
  static const std::vector<const WeightMethodInfo*> list = method_registry::checked(registered_weight_methods(), "weight method", "QUENCH_WEIGHT_METHOD");
  return list;
}

const WeightMethodInfo& weight_method(const std::string& name) { return method_registry::get(weight_methods(), name, "weight method", "QUENCH_WEIGHT_METHOD"); }

const WeightMethodInfo* find_weight_method(const std::string& name) { return method_registry::find(weight_methods(), name); }

const MethodOption* WeightMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> weight_method_option_keys() { return method_registry::option_keys(weight_methods()); }

}  // namespace quench
