#include "core/compress/prune_method.h"

#include <cmath>

#include "core/compress/method_registry.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_PRUNE_METHOD lines of the method files.
std::vector<const PruneMethodInfo*> registered_prune_methods();

const std::vector<const PruneMethodInfo*>& prune_methods() {
  static const std::vector<const PruneMethodInfo*> list = method_registry::checked(registered_prune_methods(), "prune method", "QUENCH_PRUNE_METHOD");
  return list;
}

const PruneMethodInfo& prune_method(const std::string& name) { return method_registry::get(prune_methods(), name, "prune method", "QUENCH_PRUNE_METHOD"); }

const PruneMethodInfo* find_prune_method(const std::string& name) { return method_registry::find(prune_methods(), name); }

const MethodOption* PruneMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> prune_method_option_keys() { return method_registry::option_keys(prune_methods()); }

int64_t pruned_count(double p, int64_t n) { return static_cast<int64_t>(std::floor(p * static_cast<double>(n) + 1e-9)); }

int64_t pruned_weights(const PruneSetting& p, int64_t out, int64_t in) {
  if (p.nm()) return out * (in / p.m) * (p.m - p.n);
  return prune_method(p.method).unstructured_pruned(p, out, in);
}

}  // namespace quench
