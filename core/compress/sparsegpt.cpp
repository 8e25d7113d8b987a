#include "core/compress/sparsegpt.h"

#include "core/compress/gptq.h"
#include "core/ops/sparsegpt_block.h"

#include <algorithm>

#include "core/util/error.h"

namespace quench {

PruneOutcome sparsegpt_prune(const at::Tensor& w_in, const at::Tensor& H_in, const PruneSetting& p, const std::string& layer,
                             SparseGptInfo* info) {
  QUENCH_CHECK(w_in.dim() == 2 && H_in.dim() == 2 && H_in.size(0) == w_in.size(1) && H_in.size(1) == w_in.size(1), layer,
               ": SparseGPT needs W [out, in] and H [in, in], got ", w_in.sizes(), " and ", H_in.sizes());
  at::NoGradGuard ng;
  const int64_t out = w_in.size(0), in = w_in.size(1);
  int64_t B = std::max<int64_t>(1, p.integer("block_size"));
  if (p.nm()) B = std::max<int64_t>(p.m, (B / p.m) * p.m);  // groups never straddle blocks

  at::Tensor W = w_in.to(at::kFloat).clone();
  at::Tensor H = H_in.to(W.device(), at::kFloat).clone();
  const int64_t ndead = zero_dead_inputs(W, H);
  double damp = 0;
  const at::Tensor U = upper_inverse_cholesky(H, p.number("damp"), layer, "prune.damp", &damp);

  at::Tensor keep = at::ones({out, in}, W.options().dtype(at::kBool));
  at::Tensor loss = at::zeros({1}, W.options().dtype(at::kDouble));
  // On CUDA each block of columns is one kernel (the same roundings as the loop below, which stays
  // the reference on the CPU); the kernel writes the pruned block into Q, the loop back into W.
  const bool kernel = ops::sparsegpt_block_on_kernel(W, B, p.m);
  at::Tensor Q = kernel ? at::zeros_like(W) : at::Tensor();
  for (int64_t i1 = 0; i1 < in; i1 += B) {
    const int64_t i2 = std::min(i1 + B, in), count = i2 - i1;
    at::Tensor K1 = keep.narrow(1, i1, count);  // a view: writes land in `keep`
    const at::Tensor U1 = U.narrow(0, i1, count).narrow(1, i1, count);
    const at::Tensor d1 = U1.diagonal().reshape({1, -1});
    if (!p.nm()) {
      // The block's share of pruned_weights() (declared below): one threshold over the block.
      K1.copy_(mask_lowest_in_matrix(W.narrow(1, i1, count).pow(2) / d1.pow(2), pruned_count(p.sparsity, out * count)));
    }
    at::Tensor Err1;
    if (kernel) {
      Err1 = at::empty({out, count}, W.options());
      ops::sparsegpt_block(W, Q, Err1, U, keep, i1, count, p.n, p.m, loss);
    } else {
      at::Tensor W1 = W.narrow(1, i1, count).clone();
      at::Tensor Q1 = at::zeros_like(W1);
      Err1 = at::zeros_like(W1);
      // One host copy of the diagonal per block: a device read per column is a sync per column.
      const at::Tensor diag = U1.diagonal().to(at::kCPU, at::kDouble);
      const auto d_at = diag.accessor<double, 1>();
      for (int64_t i = 0; i < count; ++i) {
        if (p.nm() && i % p.m == 0) {
          const at::Tensor g = W1.narrow(1, i, p.m);
          K1.narrow(1, i, p.m).copy_(mask_nm(g.pow(2) / d1.narrow(1, i, p.m).pow(2), p.n, p.m));
        }
        const at::Tensor w = W1.narrow(1, i, 1);  // [out, 1]
        const at::Tensor q = w * K1.narrow(1, i, 1);
        Q1.narrow(1, i, 1).copy_(q);
        const at::Tensor err = (w - q) / d_at[i];
        loss.add_(err.pow(2).sum().to(at::kDouble));
        W1.narrow(1, i, count - i).sub_(err.matmul(U1.narrow(0, i, 1).narrow(1, i, count - i)));
        Err1.narrow(1, i, 1).copy_(err);
      }
      W.narrow(1, i1, count).copy_(Q1);
    }
    if (i2 < in) W.narrow(1, i2, in - i2).sub_(Err1.matmul(U.narrow(0, i1, count).narrow(1, i2, in - i2)));
  }
  if (kernel) W = Q;
  if (info) {
    info->dead_columns = ndead;
    info->damp = damp;
    info->loss = loss.item<double>();
  }
  return {W, keep};
}

// ⌊p·out·c⌋ weights per block of c columns (one threshold over each block).
QUENCH_PRUNE_METHOD(sparsegpt_method, 30) {
  static const PruneMethodInfo info{
      "sparsegpt", "SparseGPT (calibrated, updates the kept weights)", true,
      {MethodOption::number("damp", 0.01, 0.0, 1.0, 0.005, "Damping", "SparseGPT: λ = damp · mean(diag H) added to H's diagonal")
           .above_min(),
       MethodOption::integer("block_size", 128, 1, 0, "SparseGPT block",
                             "SparseGPT: columns pruned per block before the rest are updated (a multiple of M for N:M)")},
      [](const PruneSetting& p, int64_t out, int64_t in) {
        int64_t total = 0;
        const int64_t B = std::max<int64_t>(1, p.integer("block_size"));
        for (int64_t i1 = 0; i1 < in; i1 += B) total += pruned_count(p.sparsity, out * std::min(B, in - i1));
        return total;
      },
      [](PruneMethodCall& c) {
        SparseGptInfo info;
        PruneOutcome o = sparsegpt_prune(c.weight, c.hessian(), c.setting, c.layer, &info);
        c.details["sparsegpt_damp"] = info.damp;
        c.details["sparsegpt_loss"] = info.loss;
        if (info.dead_columns) c.details["dead_columns"] = info.dead_columns;
        return o;
      }};
  return info;
}

}  // namespace quench

