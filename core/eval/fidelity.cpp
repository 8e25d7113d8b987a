#include "core/eval/fidelity.h"

#include <cmath>
#include <limits>

#include "core/util/error.h"

namespace quench {

void FidelityAccumulator::add(const at::Tensor& base_in, const at::Tensor& test_in, const at::Tensor& mask) {
  QUENCH_CHECK(base_in.sizes() == test_in.sizes(), "fidelity: logits shapes differ: ", base_in.sizes(), " vs ", test_in.sizes());
  const int64_t C = base_in.size(-1);
  auto base = base_in.reshape({-1, C}).to(at::kFloat), test = test_in.reshape({-1, C}).to(at::kFloat);
  if (mask.defined()) {
    auto m = mask.reshape({-1}).to(base.device());
    base = base.index({m});
    test = test.index({m});
  }
  if (base.size(0) == 0) return;
  auto lp = at::log_softmax(base, -1), lq = at::log_softmax(test, -1);
  kl_sum_ += (lp.exp() * (lp - lq)).sum().item<double>();
  agree_ += base.argmax(-1).eq(test.argmax(-1)).sum().item<double>();
  signal_ += base.to(at::kDouble).pow(2).sum().item<double>();
  noise_ += (base.to(at::kDouble) - test.to(at::kDouble)).pow(2).sum().item<double>();
  positions_ += base.size(0);
}

Fidelity FidelityAccumulator::result() const {
  Fidelity f;
  f.positions = positions_;
  if (positions_ == 0) return f;
  f.kl = kl_sum_ / static_cast<double>(positions_);
  f.top1_agreement = agree_ / static_cast<double>(positions_);
  f.sqnr_db = noise_ > 0 ? 10.0 * std::log10(signal_ / noise_) : std::numeric_limits<double>::infinity();
  return f;
}

}  // namespace quench
