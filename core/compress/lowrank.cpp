#include "core/compress/lowrank.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace quench {

int64_t rank_for_energy(const at::Tensor& sv, double energy) {
  const at::Tensor e = std::get<0>(sv.to(at::kDouble).pow(2).sort(/*dim=*/0, /*descending=*/true)).cumsum(0);
  const double total = e[-1].item<double>();
  if (!(total > 0)) return 1;
  const int64_t below = (e < energy * total * (1 - 1e-12)).sum().item<int64_t>();
  return std::min<int64_t>(sv.numel(), below + 1);
}

namespace {

// W ≈ U_rΣ_rV_rᵀ of m (double), split √Σ into both sides.
LowRankFactors truncated(const at::Tensor& m, int64_t r) {
  auto [U, S, Vh] = at::linalg_svd(m, /*full_matrices=*/false);
  const at::Tensor root = S.narrow(0, 0, r).sqrt();
  return {U.narrow(1, 0, r) * root.unsqueeze(0), root.unsqueeze(1) * Vh.narrow(0, 0, r)};
}

}  // namespace

LowRankFactors lowrank_factorize(const at::Tensor& w2d, const LowRankSetting& s, const std::string& layer, const at::Tensor& hessian,
                                 const at::Tensor& abs_mean) {
  at::NoGradGuard ng;
  const at::Tensor W = w2d.to(at::kDouble);
  const int64_t out = W.size(0), in = W.size(1);
  int64_t r = s.rank_for(out, in);
  if (r == 0) r = rank_for_energy(at::linalg_svdvals(W), s.energy);
  QUENCH_CHECK(r >= 1 && r <= std::min(out, in), layer, ": rank ", r, " does not fit the [", out, ", ", in, "] weight");
  LowRankFactors f;
  switch (s.method) {
    case LowRankMethod::Svd: f = truncated(W, r); break;
    case LowRankMethod::Asvd: {
      QUENCH_CHECK(abs_mean.defined() && abs_mean.numel() == in, layer, ": ASVD needs the mean |x| of its ", in, " inputs");
      // Channels that never fire would make S singular; they get the smallest nonzero scale.
      at::Tensor x = abs_mean.to(W.device(), at::kDouble).reshape({-1});
      const double floor = std::max(1e-8, x.masked_select(x > 0).numel() ? x.masked_select(x > 0).min().item<double>() : 1.0);
      const at::Tensor scale = x.clamp_min(floor).pow(s.alpha);
      f = truncated(W * scale.unsqueeze(0), r);
      f.b = f.b / scale.unsqueeze(0);
      break;
    }
    case LowRankMethod::SvdLlm: {
      QUENCH_CHECK(hessian.defined() && hessian.size(0) == in && hessian.size(1) == in, layer, ": SVD-LLM needs the [", in, ", ", in,
                   "] input second moment");
      at::Tensor C = hessian.to(W.device(), at::kDouble);
      C = (C + C.t()) / 2;
      // Not positive definite (dead or collinear inputs): shift by −λ_min plus a small margin
      // relative to the moment's scale, as SVD-LLM does.
      auto [L, bad] = at::linalg_cholesky_ex(C);
      if (bad.item<int64_t>() != 0) {
        const double lmin = at::linalg_eigvalsh(C).min().item<double>();
        const double margin = 1e-6 * std::max(1e-12, C.diagonal().mean().item<double>());
        C.diagonal().add_(std::max(0.0, -lmin) + margin);
        std::tie(L, bad) = at::linalg_cholesky_ex(C);
        QUENCH_CHECK(bad.item<int64_t>() == 0, layer, ": SVD-LLM could not whiten its inputs (second moment not positive definite)");
      }
      f = truncated(W.matmul(L), r);
      // B ← B·L⁻¹, i.e. solve Lᵀ Bᵀ = (B·)ᵀ with Lᵀ upper triangular.
      f.b = at::linalg_solve_triangular(L.t(), f.b.t(), /*upper=*/true).t();
      break;
    }
  }
  f.a = f.a.to(at::kFloat).contiguous();
  f.b = f.b.to(at::kFloat).contiguous();
  return f;
}

WeightQuant factor_a_setting(WeightQuant w, int64_t r) {
  if (w.strategy == WeightStrategy::Group) w.group_size = std::min(w.group_size, r);
  return w;
}

at::Tensor LowRankKernel::forward(const at::Tensor& x) const { return at::linear(at::linear(x, b_), a_); }

void LowRankKernel::to(at::Device device, at::ScalarType dtype) {
  a_ = a_.to(device, dtype);
  b_ = b_.to(device, dtype);
}

}  // namespace quench
