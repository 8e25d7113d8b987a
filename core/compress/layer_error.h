#pragma once
// Errors as the store records them: relative MSE ‖ŷ − y‖² / ‖y‖² and SQNR 10·log10(‖y‖² / ‖ŷ − y‖²),
// accumulated in double over any number of tensors.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <optional>

namespace quench {

class ErrorAccumulator {
 public:
  void add(const at::Tensor& test, const at::Tensor& ref) {
    const auto r = ref.to(at::kDouble), d = test.to(at::kDouble) - r;
    signal_ += r.pow(2).sum().item<double>();
    noise_ += d.pow(2).sum().item<double>();
    ++count_;
  }
  bool empty() const { return count_ == 0; }
  std::optional<double> rel_mse() const {
    if (empty() || !(signal_ > 0)) return std::nullopt;
    return noise_ / signal_;
  }
  // +inf is reported as a large finite number (the store keeps NULL for NaN, not infinities).
  std::optional<double> sqnr_db() const {
    if (empty() || !(signal_ > 0)) return std::nullopt;
    if (!(noise_ > 0)) return 300.0;
    return 10.0 * std::log10(signal_ / noise_);
  }

 private:
  double signal_ = 0, noise_ = 0;
  int64_t count_ = 0;
};

}  // namespace quench
