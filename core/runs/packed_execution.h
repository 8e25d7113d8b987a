#pragma once
// Runs a compressed model's 4-bit layers from their packed integers (core/nn/packed_linear.h) for
// as long as it lives, then back to the fake-quantized float weights: for measuring speed and
// checking the packed path against the fake-quantized model (eval, compress --packed).
#include <string>
#include <utility>
#include <vector>

#include "core/models/model.h"

namespace quench {

class PackedExecution {
 public:
  // Every layer PackedInt4Linear can take is packed; the others keep their dense weights and are
  // listed with the reason. Throws for a model streamed from its checkpoint (its weights are not
  // resident), naming the option.
  explicit PackedExecution(Model& model);
  ~PackedExecution();
  PackedExecution(const PackedExecution&) = delete;
  PackedExecution& operator=(const PackedExecution&) = delete;

  int64_t packed() const { return static_cast<int64_t>(layers_.size()); }
  int64_t packed_bytes() const { return bytes_; }
  // (layer, why it runs dense), for quantized layers only: unquantized ones are not listed.
  const std::vector<std::pair<std::string, std::string>>& dense() const { return dense_; }
  std::string summary() const;  // one line for the CLI and the window

 private:
  std::vector<Layer*> layers_;
  std::vector<std::pair<std::string, std::string>> dense_;
  int64_t bytes_ = 0;
};

}  // namespace quench
