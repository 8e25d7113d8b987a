#include "core/compress/weight_method.h"

#include "core/util/error.h"

namespace quench {

const std::vector<const WeightMethodInfo*>& weight_methods() {
  static const std::vector<const WeightMethodInfo*> list = {&rtn_method(), &gptq_method(), &awq_method(), &dgq_method(), &hqq_method()};
  return list;
}

const WeightMethodInfo& weight_method(WeightMethod m) {
  for (const WeightMethodInfo* w : weight_methods())
    if (w->id == m) return *w;
  fail("weight method ", static_cast<int>(m), " is not registered (core/compress/weight_method.cpp)");
}

const WeightMethodInfo* find_weight_method(const std::string& name) {
  for (const WeightMethodInfo* w : weight_methods())
    if (name == w->name) return w;
  return nullptr;
}

}  // namespace quench
