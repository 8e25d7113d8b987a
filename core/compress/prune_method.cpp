#include "core/compress/prune_method.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/util/error.h"

namespace quench {

// Generated at build time by cmake/method_registry.cmake from the QUENCH_PRUNE_METHOD lines of the method files.
std::vector<const PruneMethodInfo*> registered_prune_methods();

const std::vector<const PruneMethodInfo*>& prune_methods() {
  static const std::vector<const PruneMethodInfo*> list = [] {
    std::vector<const PruneMethodInfo*> l = registered_prune_methods();
    std::set<std::string> names;
    for (const PruneMethodInfo* m : l)
      if (!names.insert(m->name).second) fail("prune method \"", m->name, "\" is registered twice (QUENCH_PRUNE_METHOD lines in core/compress)");
    return l;
  }();
  return list;
}

const PruneMethodInfo& prune_method(const std::string& name) {
  if (const PruneMethodInfo* m = find_prune_method(name)) return *m;
  fail("prune method \"", name, "\" is not registered (no QUENCH_PRUNE_METHOD line in core/compress declares it)");
}

const PruneMethodInfo* find_prune_method(const std::string& name) {
  for (const PruneMethodInfo* info : prune_methods())
    if (name == info->name) return info;
  return nullptr;
}

const MethodOption* PruneMethodInfo::option(const std::string& key) const { return find_method_option(options, key); }

std::vector<std::string> prune_method_option_keys() {
  std::vector<std::string> keys;
  for (const PruneMethodInfo* m : prune_methods())
    for (const MethodOption& o : m->options)
      if (std::find(keys.begin(), keys.end(), o.key) == keys.end()) keys.push_back(o.key);
  return keys;
}

int64_t pruned_count(double p, int64_t n) { return static_cast<int64_t>(std::floor(p * static_cast<double>(n) + 1e-9)); }

int64_t pruned_weights(const PruneSetting& p, int64_t out, int64_t in) {
  if (p.nm()) return out * (in / p.m) * (p.m - p.n);
  return prune_method(p.method).unstructured_pruned(p, out, in);
}

}  // namespace quench
