#include "core/eval/fidelity.h"

#include <algorithm>
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
  // Rows in slices of about 64 MiB of doubles: a vocabulary of 128k makes one batch's temporaries
  // (log-probabilities, doubles) several GB at once.
  const int64_t rows = std::max<int64_t>(1, (int64_t(8) << 20) / std::max<int64_t>(C, 1));
  for (int64_t r = 0; r < base.size(0); r += rows) {
    const int64_t n = std::min(rows, base.size(0) - r);
    const at::Tensor b = base.narrow(0, r, n), t = test.narrow(0, r, n);
    const at::Tensor lp = at::log_softmax(b, -1), lq = at::log_softmax(t, -1);
    kl_sum_ += (lp.exp() * (lp - lq)).sum().item<double>();
    agree_ += b.argmax(-1).eq(t.argmax(-1)).sum().item<double>();
    const at::Tensor bd = b.to(at::kDouble);
    signal_ += bd.pow(2).sum().item<double>();
    noise_ += (bd - t.to(at::kDouble)).pow(2).sum().item<double>();
  }
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
