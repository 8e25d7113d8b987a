#include "core/compress/plan_text.h"

namespace quench {

std::string setting_text(const LayerPlan& p) {
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (p.weights) add(p.weights->describe());
  if (p.input) add(p.input->describe());
  if (p.output) add("out " + p.output->describe());
  if (p.hadamard) add("hadamard");
  if (p.prune) add(p.prune->describe());
  if (p.lowrank) add(p.lowrank->describe());
  return s.empty() ? p.status : s;
}

}  // namespace quench
