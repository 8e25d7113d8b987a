#include "core/compress/weight_method.h"

#include <set>

#include "core/util/error.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_WEIGHT_METHOD lines of the method files.
std::vector<const WeightMethodInfo*> registered_weight_methods();

const std::vector<const WeightMethodInfo*>& weight_methods() {
  static const std::vector<const WeightMethodInfo*> list = [] {
    std::vector<const WeightMethodInfo*> l = registered_weight_methods();
    std::set<std::string> names;
    for (const WeightMethodInfo* m : l)
      if (!names.insert(m->name).second) fail("weight method \"", m->name, "\" is registered twice (QUENCH_WEIGHT_METHOD lines in core/compress)");
    return l;
  }();
  return list;
}

const WeightMethodInfo& weight_method(const std::string& name) {
  if (const WeightMethodInfo* m = find_weight_method(name)) return *m;
  fail("weight method \"", name, "\" is not registered (no QUENCH_WEIGHT_METHOD line in core/compress declares it)");
}

const WeightMethodInfo* find_weight_method(const std::string& name) {
  for (const WeightMethodInfo* w : weight_methods())
    if (name == w->name) return w;
  return nullptr;
}

const MethodOption* WeightMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> weight_method_option_keys() {
  std::vector<std::string> keys;
  for (const WeightMethodInfo* m : weight_methods())
    for (const MethodOption& o : m->options)
      if (std::find(keys.begin(), keys.end(), o.key) == keys.end()) keys.push_back(o.key);
  return keys;
}

}  // namespace quench
