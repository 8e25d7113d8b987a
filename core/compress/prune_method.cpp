#include "core/compress/prune_method.h"

#include <cmath>

#include "core/util/error.h"

namespace quench {

const std::vector<const PruneMethodInfo*>& prune_methods() {
  static const std::vector<const PruneMethodInfo*> all = {&magnitude_method(), &wanda_method(), &sparsegpt_method()};
  return all;
}

const PruneMethodInfo& prune_method(PruneMethod m) {
  for (const PruneMethodInfo* info : prune_methods())
    if (info->id == m) return *info;
  fail("prune method ", static_cast<int>(m), " is not registered");
}

const PruneMethodInfo* find_prune_method(const std::string& name) {
  for (const PruneMethodInfo* info : prune_methods())
    if (name == info->name) return info;
  return nullptr;
}

int64_t pruned_count(double p, int64_t n) { return static_cast<int64_t>(std::floor(p * static_cast<double>(n) + 1e-9)); }

int64_t pruned_weights(const PruneSetting& p, int64_t out, int64_t in) {
  if (p.nm()) return out * (in / p.m) * (p.m - p.n);
  return prune_method(p.method).unstructured_pruned(p, out, in);
}

}  // namespace quench
