#include "core/models/memory_plan.h"

#include <cstdio>
#include <set>

#include "core/models/registry.h"
#include "core/util/error.h"

namespace quench {

namespace {

uint64_t converted_bytes(const at::Tensor& t, at::ScalarType dtype) {
  if (!t.defined()) return 0;
  const auto type = at::isFloatingType(t.scalar_type()) ? dtype : t.scalar_type();
  return static_cast<uint64_t>(t.numel()) * c10::elementSize(type);
}

}  // namespace

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / double(uint64_t(1) << 30));
  return buf;
}

MemoryPlan plan_memory(const Model& model, at::ScalarType dtype, uint64_t budget_bytes) {
  MemoryPlan p;
  p.dtype = dtype;
  p.budget = budget_bytes;
  std::set<const void*> seen;  // a tied head shares the embedding's tensor
  auto once = [&](const at::Tensor& t) { return t.defined() && seen.insert(t.unsafeGetTensorImpl()).second ? converted_bytes(t, dtype) : 0; };
  std::set<const Layer*> in_blocks;
  for (int64_t i = 0; i < model.num_blocks(); ++i) {
    uint64_t b = 0;
    for (const Layer* l : model.block_layers(i)) {
      in_blocks.insert(l);
      b += converted_bytes(l->weight(), dtype) + converted_bytes(l->bias(), dtype);
    }
    if (b > p.largest_block) p.largest_block = b, p.block_name = model.block_name(i);
  }
  for (const auto& l : model.layers()) {
    p.whole += once(l->weight()) + once(l->bias());
    // Outside the blocks a layer stays at rest: an embedding converts only the rows it looks up.
    if (!in_blocks.count(l.get()) && l->kind() != LayerKind::Embedding)
      p.slice = std::max(p.slice, std::min(static_cast<uint64_t>(kAtRestSliceBytes), converted_bytes(l->weight(), dtype)) + converted_bytes(l->bias(), dtype));
  }
  for (const auto& [name, t] : model.params()) {
    const uint64_t b = once(t);
    p.whole += b;
    p.resident += b;
  }
  p.stream = budget_bytes > 0 && p.whole > budget_bytes;
  if (p.stream && p.streamed_peak() > budget_bytes)
    throw UsageError(detail::concat("--max-memory ", gib(budget_bytes), " cannot hold ", model.checkpoint().dir(), " even one block at a time: ",
                                    p.block_name, " takes ", gib(p.largest_block), " in ", dtype_string(dtype), ", with ",
                                    gib(p.resident + p.slice), " of norms and head slices beside it (", gib(p.streamed_peak()),
                                    " in all; the whole model takes ", gib(p.whole), ")"));
  return p;
}

std::string MemoryPlan::describe() const {
  const std::string type = dtype_string(dtype);
  if (!stream)
    return "weights: " + gib(whole) + " in " + type + (budget ? ", within --max-memory " + gib(budget) : std::string()) + ": loaded whole";
  return "weights: " + gib(whole) + " in " + type + ", above --max-memory " + gib(budget) + ": streamed from the checkpoint one block at a time (" +
         gib(streamed_peak()) + " at most: " + block_name + " " + gib(largest_block) + ", " + gib(resident + slice) +
         " of norms and head slices)";
}

}  // namespace quench
