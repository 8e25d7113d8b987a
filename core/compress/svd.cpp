// Plain SVD: the truncated SVD of W, A = U_rΣ_r^½, B = Σ_r^½V_rᵀ, sized by rank, parameter ratio
// or kept energy (the one method whose rank W alone decides). Data-free.
#include "core/compress/lowrank_method.h"

namespace quench {

QUENCH_LOWRANK_METHOD(svd_method, 10) {
  static const LowRankMethodInfo m{"svd", "SVD of W", LowRankData::None, {}, /*by_energy=*/true,
                                   [](LowRankMethodCall& c) { return truncated(c.weight, c.rank, c.layer); }};
  return m;
}

}  // namespace quench
