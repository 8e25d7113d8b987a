#pragma once
// How much memory a model's weights take on the compute device, as a whole or streamed one block
// at a time (Model::stream), and which of the two a budget allows: decided before any work starts.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "core/models/model.h"

namespace quench {

struct MemoryPlan {
  at::ScalarType dtype = at::kFloat;
  uint64_t budget = 0;         // bytes; 0: none given
  uint64_t whole = 0;          // every weight converted at once (the fast path)
  uint64_t resident = 0;       // what stays converted while streaming: norms, A_log, position tables, ...
  uint64_t largest_block = 0;  // the largest block's layers, converted while it runs
  uint64_t slice = 0;          // the largest converted slice of a layer outside the blocks (a head)
  std::string block_name;      // the largest block's module path
  bool stream = false;

  uint64_t streamed_peak() const { return resident + largest_block + slice; }
  std::string describe() const;  // one line for people: the choice and the sizes behind it
};

// Throws UsageError, naming the model, the budget and the largest block, when even streaming cannot
// hold one block. budget_bytes 0: no budget, the whole model.
MemoryPlan plan_memory(const Model& model, at::ScalarType dtype, uint64_t budget_bytes);

// "1.50 GiB"
std::string gib(uint64_t bytes);

}  // namespace quench
