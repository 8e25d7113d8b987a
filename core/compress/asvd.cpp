// ASVD (Yuan et al., "ASVD: Activation-aware Singular Value Decomposition for Compressing Large
// Language Models", 2023; hahnyuan/ASVD4LLM modules/svd_linear.py): SVD of W·S with
// S = diag(mean|x|^α), B ← Σ_r^½V_rᵀS⁻¹, so input channels that carry more signal are kept better.
#include "core/compress/lowrank_method.h"

#include <algorithm>

#include "core/util/error.h"

namespace quench {

namespace {

LowRankFactors asvd(LowRankMethodCall& c) {
  const int64_t in = c.weight.size(1);
  QUENCH_CHECK(c.abs_mean.defined() && c.abs_mean.numel() == in, c.layer, ": ASVD needs the mean |x| of its ", in, " inputs");
  // Channels that never fire would make S singular; they get the smallest nonzero scale.
  at::Tensor x = c.abs_mean.to(c.weight.device(), at::kDouble).reshape({-1});
  const double floor = std::max(1e-8, x.masked_select(x > 0).numel() ? x.masked_select(x > 0).min().item<double>() : 1.0);
  const at::Tensor scale = x.clamp_min(floor).pow(c.setting.number("alpha"));
  LowRankFactors f = truncated(c.weight * scale.unsqueeze(0), c.rank, c.layer);
  f.b = f.b / scale.unsqueeze(0);
  return f;
}

}  // namespace

QUENCH_LOWRANK_METHOD(asvd_method, 20) {
  static const LowRankMethodInfo m{
      "asvd", "ASVD, activation-scaled (calibrated)", LowRankData::InputAbsMean,
      {MethodOption::number("alpha", 0.5, 0.0, 2.0, 0.1, "α", "ASVD: W · diag(mean |x|^α) is factored")}, /*by_energy=*/false, asvd};
  return m;
}

}  // namespace quench
