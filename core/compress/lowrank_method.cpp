#include "core/compress/lowrank_method.h"

#include <algorithm>
#include <set>

#include "core/util/error.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_LOWRANK_METHOD lines of the method files.
std::vector<const LowRankMethodInfo*> registered_lowrank_methods();

const std::vector<const LowRankMethodInfo*>& lowrank_methods() {
  static const std::vector<const LowRankMethodInfo*> list = [] {
    std::vector<const LowRankMethodInfo*> l = registered_lowrank_methods();
    std::set<std::string> names;
    for (const LowRankMethodInfo* m : l)
      if (!names.insert(m->name).second) fail("low-rank method \"", m->name, "\" is registered twice (QUENCH_LOWRANK_METHOD lines in core/compress)");
    return l;
  }();
  return list;
}

const LowRankMethodInfo& lowrank_method(const std::string& name) {
  if (const LowRankMethodInfo* m = find_lowrank_method(name)) return *m;
  fail("low-rank method \"", name, "\" is not registered (no QUENCH_LOWRANK_METHOD line in core/compress declares it)");
}

const LowRankMethodInfo* find_lowrank_method(const std::string& name) {
  for (const LowRankMethodInfo* m : lowrank_methods())
    if (name == m->name) return m;
  return nullptr;
}

const MethodOption* LowRankMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> lowrank_method_option_keys() {
  std::vector<std::string> keys;
  for (const LowRankMethodInfo* m : lowrank_methods())
    for (const MethodOption& o : m->options)
      if (std::find(keys.begin(), keys.end(), o.key) == keys.end()) keys.push_back(o.key);
  return keys;
}

}  // namespace quench
