#pragma once
// Several transforms on one observable point, in order (a rotation, then a quantizer), installed
// as the one composite transform Hooks keeps per point. A probe can be slotted in before a named
// stage to see the tensor there (compress() measures errors on the rotated, not yet quantized input).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/nn/hooks.h"

namespace quench {

class PointTransforms {
 public:
  using Probe = std::function<void(const at::Tensor&)>;

  void add(const std::string& point, const std::string& stage, Transform f);
  bool has(const std::string& point, const std::string& stage) const;
  std::vector<std::string> points() const;

  // Replaces every transform on `hooks` by the composites (points without stages get none).
  // probes: called with the tensor as it reaches the first stage named `before` (after the whole
  // chain when the point has no such stage).
  void install(Hooks& hooks, const std::map<std::string, Probe>& probes = {}, const std::string& before = "") const;
  // Only the stages whose names are listed (e.g. rotations while calibrating the quantizers after them).
  void install_only(Hooks& hooks, const std::vector<std::string>& stages) const;

 private:
  struct Stage {
    std::string name;
    Transform f;
  };
  std::map<std::string, std::vector<Stage>> chains_;
};

}  // namespace quench
