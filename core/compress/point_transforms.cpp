#include "core/compress/point_transforms.h"

#include <algorithm>
#include <set>

namespace quench {

void PointTransforms::add(const std::string& point, const std::string& stage, Transform f) { chains_[point].push_back({stage, std::move(f)}); }

bool PointTransforms::has(const std::string& point, const std::string& stage) const {
  auto it = chains_.find(point);
  if (it == chains_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const Stage& s) { return s.name == stage; });
}

std::vector<std::string> PointTransforms::points() const {
  std::vector<std::string> out;
  for (const auto& [p, c] : chains_) out.push_back(p);
  return out;
}

void PointTransforms::install(Hooks& hooks, const std::map<std::string, Probe>& probes, const std::string& before) const {
  hooks.clear_transforms();
  std::set<std::string> all;
  for (const auto& [p, c] : chains_) all.insert(p);
  for (const auto& [p, f] : probes) all.insert(p);
  for (const auto& p : all) {
    std::vector<Stage> chain;
    if (auto it = chains_.find(p); it != chains_.end()) chain = it->second;
    Probe probe;
    if (auto it = probes.find(p); it != probes.end()) probe = it->second;
    hooks.set_transform(p, [chain, probe, before](const at::Tensor& x0) {
      at::Tensor x = x0;
      bool probed = !probe;
      for (const auto& s : chain) {
        if (!probed && s.name == before) {
          probe(x);
          probed = true;
        }
        x = s.f(x);
      }
      if (!probed) probe(x);
      return x;
    });
  }
}

void PointTransforms::install_only(Hooks& hooks, const std::vector<std::string>& stages) const {
  hooks.clear_transforms();
  for (const auto& [p, c] : chains_) {
    std::vector<Stage> chain;
    for (const auto& s : c)
      if (std::find(stages.begin(), stages.end(), s.name) != stages.end()) chain.push_back(s);
    if (chain.empty()) continue;
    hooks.set_transform(p, [chain](const at::Tensor& x0) {
      at::Tensor x = x0;
      for (const auto& s : chain) x = s.f(x);
      return x;
    });
  }
}

}  // namespace quench
