#include "core/compress/lowrank.h"

#include <algorithm>
#include <cmath>

#include "core/compress/lowrank_method.h"
#include "core/util/error.h"

namespace quench {

int64_t rank_for_energy(const at::Tensor& sv, double energy) {
  const at::Tensor e = std::get<0>(sv.to(at::kDouble).pow(2).sort(/*dim=*/0, /*descending=*/true)).cumsum(0);
  const double total = e[-1].item<double>();
  if (!(total > 0)) return 1;
  const int64_t below = (e < energy * total * (1 - 1e-12)).sum().item<int64_t>();
  return std::min<int64_t>(sv.numel(), below + 1);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> thin_svd(const at::Tensor& m, const std::string& layer) {
  QUENCH_CHECK(m.dim() == 2, layer, ": SVD of a ", m.dim(), "-D tensor");
  QUENCH_CHECK(at::isfinite(m).all().item<bool>(), layer, ": the matrix to factor holds non-finite values");
  const int64_t rows = m.size(0), cols = m.size(1);
  // A wide or tall matrix is reduced to its square core first (m = QR or m = RᵀQᵀ): the SVD then
  // runs on min(rows, cols)² entries, the shape cuSOLVER handles best.
  at::Tensor Q, core = m;
  if (rows != cols) std::tie(Q, core) = at::linalg_qr(rows > cols ? m : m.t(), "reduced");
  if (rows < cols) core = core.t();
  at::Tensor U, S, Vh;
  try {
    std::tie(U, S, Vh) = at::linalg_svd(core, /*full_matrices=*/false);
  } catch (const c10::Error&) {
    // cuSOLVER's iterative SVD can fail to converge on an ill-conditioned core (seen on
    // whitened 8B-width key projections); LAPACK's divide and conquer on the CPU does not.
    if (!core.is_cuda()) throw;
    auto [u, s, vh] = at::linalg_svd(core.cpu(), /*full_matrices=*/false);
    U = u.to(core.device()), S = s.to(core.device()), Vh = vh.to(core.device());
  }
  if (rows > cols) U = Q.matmul(U);
  else if (rows < cols) Vh = Vh.matmul(Q.t());
  return {U, S, Vh};
}

LowRankFactors truncated(const at::Tensor& m, int64_t r, const std::string& layer) {
  auto [U, S, Vh] = thin_svd(m, layer);
  const at::Tensor root = S.narrow(0, 0, r).sqrt();
  LowRankFactors f;
  f.a = U.narrow(1, 0, r) * root.unsqueeze(0);
  f.b = root.unsqueeze(1) * Vh.narrow(0, 0, r);
  return f;
}

// The Cholesky factor L of the input second moment (C = LLᵀ), which whitens W·L. Not positive
// definite (dead or collinear inputs): shift by −λ_min plus a small margin relative to the
// moment's scale, as SVD-LLM does.
at::Tensor whitening(const at::Tensor& hessian, int64_t in, const std::string& layer, const char* method) {
  QUENCH_CHECK(hessian.defined() && hessian.dim() == 2 && hessian.size(0) == in && hessian.size(1) == in, layer, ": ", method, " needs the [", in, ", ", in,
               "] input second moment");
  at::Tensor C = hessian.to(at::kDouble);
  QUENCH_CHECK(at::isfinite(C).all().item<bool>(), layer, ": ", method, "'s input second moment holds non-finite values (the calibration activations overflowed)");
  C = (C + C.t()) / 2;
  // cuSOLVER's Cholesky can report success on a nearly singular moment and return NaNs, so a
  // factor counts only if it is finite too; the last resort is LAPACK on the CPU.
  const auto factor = [](const at::Tensor& m) {
    auto [L, info] = at::linalg_cholesky_ex(m);
    return info.item<int64_t>() == 0 && at::isfinite(L).all().item<bool>() ? L : at::Tensor();
  };
  at::Tensor L = factor(C);
  if (!L.defined()) {
    const double lmin = at::linalg_eigvalsh(C).min().item<double>();
    const double margin = 1e-6 * std::max(1e-12, C.diagonal().mean().item<double>());
    C.diagonal().add_(std::max(0.0, -lmin) + margin);
    L = factor(C);
    if (!L.defined() && C.is_cuda()) {
      L = factor(C.cpu());
      if (L.defined()) L = L.to(C.device());
    }
    QUENCH_CHECK(L.defined(), layer, ": ", method, " could not whiten its inputs (second moment not positive definite)");
  }
  return L;
}

// B ← B·L⁻¹, i.e. solve Lᵀ Bᵀ = (B·)ᵀ with Lᵀ upper triangular.
at::Tensor unwhiten(const at::Tensor& b, const at::Tensor& L) { return at::linalg_solve_triangular(L.t(), b.t(), /*upper=*/true).t(); }


int64_t LowRankFactors::parameters() const {
  if (group_ranks.empty()) return a.numel() + b.numel();
  const int64_t rows = a.size(0) / static_cast<int64_t>(group_ranks.size());
  return rows * rank() + b.numel();
}

LowRankFactors lowrank_factorize(const at::Tensor& w2d, const LowRankSetting& s, const std::string& layer, const at::Tensor& hessian,
                                 const at::Tensor& abs_mean, int64_t head_dim) {
  at::NoGradGuard ng;
  const at::Tensor W = w2d.to(at::kDouble);
  const int64_t out = W.size(0), in = W.size(1);
  int64_t r = s.rank_for(out, in);
  if (r == 0) r = rank_for_energy(at::linalg_svdvals(W), s.energy);
  QUENCH_CHECK(r >= 1 && r <= std::min(out, in), layer, ": rank ", r, " does not fit the [", out, ", ", in, "] weight");
  LowRankMethodCall call{layer, s, W, r, hessian, abs_mean, head_dim};
  LowRankFactors f = lowrank_method(s.method).factor(call);
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
