#include "core/compress/wanda.h"

#include <cmath>

#include "core/util/error.h"

namespace quench {

at::Tensor mask_lowest_in_matrix(const at::Tensor& score, int64_t count) {
  at::Tensor keep = at::ones(score.sizes(), score.options().dtype(at::kBool));
  if (count <= 0) return keep;
  // Stable sort: ties (zeros) go in index order, so the count is exact and deterministic.
  const at::Tensor order = std::get<1>(score.reshape({-1}).sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  keep.reshape({-1}).index_fill_(0, order.narrow(0, 0, count), false);
  return keep;
}

at::Tensor mask_lowest_per_row(const at::Tensor& score, int64_t count) {
  at::Tensor keep = at::ones(score.sizes(), score.options().dtype(at::kBool));
  if (count <= 0) return keep;
  const at::Tensor order = std::get<1>(score.sort(/*stable=*/true, /*dim=*/1, /*descending=*/false));
  keep.scatter_(1, order.narrow(1, 0, count), false);
  return keep;
}

at::Tensor mask_nm(const at::Tensor& score, int n, int m) {
  const int64_t out = score.size(0), in = score.size(1);
  QUENCH_CHECK(in % m == 0, "N:M mask: ", in, " columns are not a multiple of M = ", m);
  const at::Tensor g = score.reshape({out, in / m, m});
  const at::Tensor order = std::get<1>(g.sort(/*stable=*/true, /*dim=*/2, /*descending=*/true));
  at::Tensor keep = at::zeros(g.sizes(), score.options().dtype(at::kBool));
  keep.scatter_(2, order.narrow(2, 0, n), true);
  return keep.reshape({out, in});
}

PruneOutcome prune_by_score(const at::Tensor& w2d, const PruneSetting& p, const at::Tensor& input_norms) {
  const at::Tensor w = w2d.to(at::kFloat);
  at::Tensor score = w.abs();
  if (input_norms.defined()) score = score * input_norms.to(w.device(), at::kFloat).reshape({1, -1});
  const int64_t out = w.size(0), in = w.size(1);
  PruneOutcome o;
  if (p.nm()) o.mask = mask_nm(score, p.n, p.m);
  else if (!input_norms.defined()) o.mask = mask_lowest_in_matrix(score, pruned_weights(p, out, in));
  else o.mask = mask_lowest_per_row(score, pruned_weights(p, out, in) / std::max<int64_t>(out, 1));
  o.weight = w * o.mask;
  return o;
}

// Magnitude: one threshold over the matrix, ⌊p·out·in⌋ weights.
QUENCH_PRUNE_METHOD(magnitude_method, 10) {
  static const PruneMethodInfo info{
      "magnitude", "magnitude |W|", false, {},
      [](const PruneSetting& p, int64_t out, int64_t in) { return pruned_count(p.sparsity, out * in); },
      [](PruneMethodCall& c) { return prune_by_score(c.weight, c.setting); }};
  return info;
}

// Wanda: ⌊p·in⌋ weights of each row. diag H = (2/N) Σ x_j², a constant multiple of ‖X_:,j‖², so
// its square root orders each row's scores as the input norms do.
QUENCH_PRUNE_METHOD(wanda_method, 20) {
  static const PruneMethodInfo info{
      "wanda", "Wanda |W|·‖X‖ (calibrated)", true, {},
      [](const PruneSetting& p, int64_t out, int64_t in) { return out * pruned_count(p.sparsity, in); },
      [](PruneMethodCall& c) { return prune_by_score(c.weight, c.setting, c.hessian().diagonal().clamp_min(0).sqrt()); }};
  return info;
}

}  // namespace quench
