#pragma once
// How far a compressed model's outputs are from the uncompressed model's on the same inputs:
// KL(base ‖ test) of the next-token (or class) distributions, top-1 agreement, logits SQNR.
#include <ATen/ATen.h>

#include <cstdint>

namespace quench {

struct Fidelity {
  double kl = 0;             // mean over positions of KL(p_base ‖ p_test), nats
  double top1_agreement = 0;  // fraction of positions whose argmax agrees
  double sqnr_db = 0;         // 10·log10(Σ base² / Σ (base − test)²) over all logits
  int64_t positions = 0;
};

class FidelityAccumulator {
 public:
  // logits [..., classes]; mask (bool, same leading shape) selects the positions that count.
  void add(const at::Tensor& base, const at::Tensor& test, const at::Tensor& mask = at::Tensor());
  Fidelity result() const;

 private:
  double kl_sum_ = 0, agree_ = 0, signal_ = 0, noise_ = 0;
  int64_t positions_ = 0;
};

}  // namespace quench
