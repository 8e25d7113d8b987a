// SVD-LLM (Wang et al., "SVD-LLM: Truncation-aware Singular Value Decomposition for Large Language
// Model Compression", ICLR 2025; AIoT-MLSys-Lab/SVD-LLM SVDLLM.py): whitening by the calibration
// second moment C = Σ xxᵀ = LLᵀ; SVD of W·L, B ← Σ_r^½V_rᵀL⁻¹. Truncating σ_i then costs exactly
// ‖(W − W′)X‖_F² = Σ_{i>r} σ_i², the minimum for rank r on these inputs.
#include "core/compress/lowrank_method.h"

namespace quench {

namespace {

LowRankFactors svd_llm(LowRankMethodCall& c) {
  const at::Tensor L = whitening(c.hessian.to(c.weight.device()), c.weight.size(1), c.layer, "SVD-LLM");
  LowRankFactors f = truncated(c.weight.matmul(L), c.rank, c.layer);
  f.b = unwhiten(f.b, L);
  return f;
}

}  // namespace

QUENCH_LOWRANK_METHOD(svd_llm_method, 30) {
  static const LowRankMethodInfo m{"svd-llm", "SVD-LLM, whitened (calibrated)", LowRankData::Hessian, {}, /*by_energy=*/false, svd_llm};
  return m;
}

}  // namespace quench
