#pragma once
// What the weight, pruning and low-rank method registries (weight_method.h, prune_method.h,
// lowrank_method.h) do alike over their generated lists: refuse a name registered twice, find a
// method by name, collect the option keys the methods own, and read those options from a recipe
// section. Info is the registry's method declaration: it has `name`, `options` (MethodOption) and
// `option(key)`.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "core/compress/json_fields.h"
#include "core/compress/method_option.h"
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

// The method that declares option `key`, or nullptr.
template <class Info>
const Info* owner_of_option(const std::vector<const Info*>& list, const std::string& key) {
  for (const Info* m : list)
    if (m->option(key)) return m;
  return nullptr;
}

// Fails at the first option of the section that another method owns, naming that method: a
// method's own option given to another is a mistake, not something to ignore.
template <class Info>
void refuse_foreign_options(const recipe_json::Fields& f, const std::vector<const Info*>& list, const Info& method) {
  for (const std::string& k : option_keys(list))
    if (f.has(k.c_str()) && !method.option(k))
      f.fail_at(k, std::string("applies to method \"") + owner_of_option(list, k)->name + "\", not \"" + method.name + "\"");
}

// Writes every option the section gives into `out`, each read (and range-checked) as its
// declaration says: the method's own, or, for a patch that sets another method's option, the
// owner's (the merged setting is checked against its method later).
template <class Info>
void read_options(const recipe_json::Fields& f, const std::vector<const Info*>& list, const Info& method, nlohmann::json& out) {
  for (const std::string& k : option_keys(list)) {
    if (!f.has(k.c_str())) continue;
    const MethodOption* o = method.option(k);
    out[k] = read_method_option(f, o ? *o : *owner_of_option(list, k)->option(k));
  }
}

}  // namespace quench::method_registry
