#pragma once
// What the weight, pruning and low-rank method registries (weight_method.h, prune_method.h,
// lowrank_method.h) do alike over their generated lists: refuse a name registered twice, find a
// method by name, and collect the option keys the methods own. Info is the registry's method
// declaration: it has `name` and `options` (MethodOption).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/util/error.h"

namespace quench::method_registry {

// The generated list, checked: `kind` ("weight method") and `macro` (its registration line) name
// the registry in the error.
template <class Info>
std::vector<const Info*> checked(std::vector<const Info*> list, const char* kind, const char* macro) {
  std::set<std::string> names;
  for (const Info* m : list)
    if (!names.insert(m->name).second) fail(kind, " \"", m->name, "\" is registered twice (", macro, " lines in core/compress)");
  return list;
}

template <class Info>
const Info* find(const std::vector<const Info*>& list, const std::string& name) {
  for (const Info* m : list)
    if (name == m->name) return m;
  return nullptr;
}

template <class Info>
const Info& get(const std::vector<const Info*>& list, const std::string& name, const char* kind, const char* macro) {
  if (const Info* m = find(list, name)) return *m;
  fail(kind, " \"", name, "\" is not registered (no ", macro, " line in core/compress declares it)");
}

// Every option key some method owns, in registration order, once each.
template <class Info>
std::vector<std::string> option_keys(const std::vector<const Info*>& list) {
  std::vector<std::string> keys;
  for (const Info* m : list)
    for (const auto& o : m->options)
      if (std::find(keys.begin(), keys.end(), o.key) == keys.end()) keys.push_back(o.key);
  return keys;
}

}  // namespace quench::method_registry
