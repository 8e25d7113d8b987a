#include "core/nn/hooks.h"

#include <algorithm>

namespace quench {

void Hooks::remove_observer(const Observer* o) {
  observers_.erase(std::remove_if(observers_.begin(), observers_.end(), [o](const auto& p) { return p.get() == o; }),
                   observers_.end());
}

std::vector<std::string> Hooks::transform_points() const {
  std::vector<std::string> out;
  for (const auto& [p, f] : transforms_) out.push_back(p);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace quench
