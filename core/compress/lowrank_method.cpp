#include "core/compress/lowrank_method.h"

#include "core/compress/method_registry.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_LOWRANK_METHOD lines of the method files.
std::vector<const LowRankMethodInfo*> registered_lowrank_methods();

const std::vector<const LowRankMethodInfo*>& lowrank_methods() {
  static const std::vector<const LowRankMethodInfo*> list = method_registry::checked(registered_lowrank_methods(), "low-rank method", "QUENCH_LOWRANK_METHOD");
  return list;
}

const LowRankMethodInfo& lowrank_method(const std::string& name) { return method_registry::get(lowrank_methods(), name, "low-rank method", "QUENCH_LOWRANK_METHOD"); }

const LowRankMethodInfo* find_lowrank_method(const std::string& name) { return method_registry::find(lowrank_methods(), name); }

const MethodOption* LowRankMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> lowrank_method_option_keys() { return method_registry::option_keys(lowrank_methods()); }

}  // namespace quench
