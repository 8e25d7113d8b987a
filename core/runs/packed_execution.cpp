#include "core/runs/packed_execution.h"

#include "core/nn/packed_linear.h"
#include "core/util/error.h"

namespace quench {

PackedExecution::PackedExecution(Model& model) {
  QUENCH_CHECK(!model.streaming(), "packed execution needs the compressed weights in memory; leave out --max-memory");
  try {
    for (const auto& lp : model.layers()) {
      Layer& l = *lp;
      const std::string why = PackedInt4Linear::unsupported(l);
      if (!why.empty()) {
        if (l.execution_encoding() || l.kernel()) dense_.emplace_back(l.name(), why);
        continue;
      }
      auto k = std::make_shared<PackedInt4Linear>(l);
      bytes_ += k->bytes();
      l.set_runtime(std::move(k));
      layers_.push_back(&l);
    }
  } catch (...) {
    for (Layer* l : layers_) l->set_runtime(nullptr);
    throw;
  }
}

PackedExecution::~PackedExecution() {
  for (Layer* l : layers_) l->set_runtime(nullptr);
}

std::string PackedExecution::summary() const {
  std::string s = std::to_string(packed()) + " layers run from packed int4 (" + std::to_string(bytes_ / (1024 * 1024)) + " MiB)";
  if (!dense_.empty()) {
    s += "; " + std::to_string(dense_.size()) + " quantized layers run dense, e.g. " + dense_.front().first + ": " + dense_.front().second;
  }
  return s;
}

}  // namespace quench
