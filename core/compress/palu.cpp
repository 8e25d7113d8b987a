// Palu (Chang et al., "Palu: Compressing KV-Cache with Low-Rank Projection", ICLR 2025;
// shadowpa0327/Palu palu/decomposition.py, rank_search.py) for key and value projections:
// group-head decomposition — the rows of every group of g heads are factored on their own with
// SVD-LLM's whitening, so A is block diagonal and B [r, in] yields the latent the cache stores
// (r wide instead of out). The rank is split over the groups by the whitened truncation loss: the
// r largest σ² of all groups (at least one per group), which minimizes Σ‖(W − W′)X‖² over the
// splits. Palu splits by Fisher information (gradients of the loss), which Quench does not
// compute; this split is the one its truncation loss measures. Its rank (ratio: that width as a
// share of the projection's outputs) is the width of the cached latent, split over the groups.
#include "core/compress/lowrank_method.h"

#include <algorithm>
#include <cmath>

#include "core/compress/family.h"
#include "core/models/model.h"
#include "core/util/error.h"

namespace quench {

namespace {

// Palu's group-head decomposition: each block of `rows` rows factored on its own after whitening,
// the rank split by the largest whitened σ² over all blocks (at least one each).
LowRankFactors palu(const at::Tensor& W, int64_t r, const at::Tensor& L, int64_t rows, const std::string& layer) {
  const int64_t out = W.size(0), in = W.size(1);
  QUENCH_CHECK(rows > 0 && out % rows == 0, layer, ": ", out, " outputs do not split into head groups of ", rows, " rows");
  const int64_t n = out / rows;
  QUENCH_CHECK(r >= n, layer, ": rank ", r, " leaves less than one per head group (", n, " groups)");
  std::vector<at::Tensor> U(n), S(n), Vh(n);
  for (int64_t g = 0; g < n; ++g) std::tie(U[g], S[g], Vh[g]) = thin_svd(W.narrow(0, g * rows, rows).matmul(L), layer);
  std::vector<int64_t> ranks(static_cast<size_t>(n), 1);
  for (int64_t left = r - n; left > 0; --left) {
    int64_t best = -1;
    double top = -1;
    for (int64_t g = 0; g < n; ++g) {
      if (ranks[g] >= S[g].numel()) continue;
      const double s = S[g][ranks[g]].item<double>();
      if (s > top) top = s, best = g;
    }
    QUENCH_CHECK(best >= 0, layer, ": rank ", r, " is more than its head groups can hold");
    ++ranks[best];
  }
  LowRankFactors f;
  f.a = at::zeros({out, r}, W.options());
  f.b = at::zeros({r, in}, W.options());
  int64_t off = 0;
  for (int64_t g = 0; g < n; ++g) {
    const int64_t k = ranks[g];
    const at::Tensor root = S[g].narrow(0, 0, k).sqrt();
    f.a.narrow(0, g * rows, rows).narrow(1, off, k).copy_(U[g].narrow(1, 0, k) * root.unsqueeze(0));
    f.b.narrow(0, off, k).copy_(unwhiten(root.unsqueeze(1) * Vh[g].narrow(0, 0, k), L));
    off += k;
  }
  f.group_ranks = ranks;
  return f;
}

}  // namespace

QUENCH_LOWRANK_METHOD(palu_method, 40) {
  static const LowRankMethodInfo m{
      "palu", "Palu, key/value heads in groups (calibrated)", LowRankData::Hessian,
      {MethodOption::integer("group_heads", 4, 1, 4096, "Heads per group",
                             "Palu: heads factored together; its rank (ratio: share of the outputs) is the width the KV cache stores")
           .tagged("heads per group")},
      /*by_energy=*/false,
      [](LowRankMethodCall& c) {
        const at::Tensor L = whitening(c.hessian.to(c.weight.device()), c.weight.size(1), c.layer, "Palu");
        return palu(c.weight, c.rank, L, c.head_dim * c.setting.integer("group_heads"), c.layer);
      },
      // The rank is the cached latent's width: a share of the outputs.
      [](double ratio, int64_t out, int64_t in) { return std::max<int64_t>(1, static_cast<int64_t>(std::floor(ratio * static_cast<double>(out)))); },
      [](const LowRankSetting& s, int64_t head_dim) { return head_dim > 0 ? head_dim * s.integer("group_heads") : int64_t{0}; },
      [](const LowRankSetting& s, const Model& model, const std::string& layer, const std::function<void(const std::string&)>& fail) {
        // fail() throws; the returns keep the divisions below safe if it ever did not.
        if (!is_kv_projection(model, layer))
          return fail("palu factors the key and value projections of attention; " + layer + " is not one of " + model.architecture() +
                      "'s (as its file in core/models declares them)");
        const Layer& l = model.layer(layer);
        const int64_t hd = model.attention_head_dim(), heads = s.integer("group_heads"), rows = hd * heads;
        if (hd <= 0 || l.out_features() % rows != 0)
          return fail(layer + " has " + std::to_string(l.out_features()) + " outputs, which do not split into groups of " + std::to_string(heads) +
               " heads of " + std::to_string(hd) + " (set lowrank.group_heads)");
        const int64_t r = s.rank_for(l.out_features(), l.in_features()), n = l.out_features() / rows;
        if (r < n) fail("rank " + std::to_string(r) + " of " + layer + " leaves less than one per head group (" + std::to_string(n) + " groups)");
      }};
  return m;
}

}  // namespace quench
