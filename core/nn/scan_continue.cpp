// Scans continued from a state (decoding); the whole-sequence scans are in scan.cpp.
#include <vector>

#include "core/nn/scan.h"
#include "core/util/error.h"

namespace quench {

at::Tensor selective_scan_continue(const at::Tensor& u_in, const at::Tensor& delta_in, const at::Tensor& A_in, const at::Tensor& B_in,
                                   const at::Tensor& C_in, const at::Tensor& D_in, at::Tensor& state) {
  QUENCH_CHECK(u_in.dim() == 3 && delta_in.sizes() == u_in.sizes() && A_in.dim() == 2 && A_in.size(0) == u_in.size(2) && B_in.dim() == 3 &&
                   C_in.sizes() == B_in.sizes() && B_in.size(2) == A_in.size(1),
               "selective_scan_continue: u, delta [B, L, D], A [D, N], B, C [B, L, N] expected, got ", u_in.sizes(), ", ", A_in.sizes(), ", ",
               B_in.sizes());
  const int64_t Bn = u_in.size(0), L = u_in.size(1), Dn = u_in.size(2), N = A_in.size(1);
  auto u = u_in.to(at::kFloat), dl = delta_in.to(at::kFloat), A = A_in.to(at::kFloat).unsqueeze(0);
  auto Bm = B_in.to(at::kFloat), C = C_in.to(at::kFloat);
  at::Tensor h = state.defined() ? state : at::zeros({Bn, Dn, N}, u.options());
  QUENCH_CHECK(h.sizes() == at::IntArrayRef({Bn, Dn, N}), "selective_scan_continue: state ", h.sizes(), " does not match [", Bn, ", ", Dn, ", ", N, "]");
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) {
    auto dt = dl.select(1, t).unsqueeze(-1);  // [B, D, 1]
    h = at::exp(A * dt) * h + (dt * u.select(1, t).unsqueeze(-1)) * Bm.select(1, t).unsqueeze(1);
    ys.push_back((h * C.select(1, t).unsqueeze(1)).sum(-1));
  }
  state = h;
  auto y = at::stack(ys, 1);
  if (D_in.defined()) y = y + u * D_in.to(at::kFloat);
  return y.to(u_in.scalar_type());
}

at::Tensor ssd_scan_continue(const at::Tensor& x_in, const at::Tensor& dt_in, const at::Tensor& A_in, const at::Tensor& B_in,
                             const at::Tensor& C_in, const at::Tensor& D_in, at::Tensor& state) {
  QUENCH_CHECK(x_in.dim() == 4 && dt_in.dim() == 3 && B_in.dim() == 4 && C_in.sizes() == B_in.sizes() && A_in.dim() == 1,
               "ssd_scan_continue: x [B, L, H, P], dt [B, L, H], A [H], B, C [B, L, G, N] expected, got ", x_in.sizes(), ", ", dt_in.sizes(),
               ", ", B_in.sizes());
  const int64_t Bn = x_in.size(0), L = x_in.size(1), H = x_in.size(2), P = x_in.size(3), G = B_in.size(2), N = B_in.size(3);
  QUENCH_CHECK(G > 0 && H % G == 0, "ssd_scan_continue: ", H, " heads are not a multiple of ", G, " groups");
  auto x = x_in.to(at::kFloat), dt = dt_in.to(at::kFloat), A = A_in.to(at::kFloat).unsqueeze(0);  // A [1, H]
  // Head h reads group h / (H / G), as ssd_scan does.
  auto Bm = B_in.to(at::kFloat).repeat_interleave(H / G, 2), C = C_in.to(at::kFloat).repeat_interleave(H / G, 2);  // [B, L, H, N]
  at::Tensor s = state.defined() ? state : at::zeros({Bn, H, P, N}, x.options());
  QUENCH_CHECK(s.sizes() == at::IntArrayRef({Bn, H, P, N}), "ssd_scan_continue: state ", s.sizes(), " does not match [", Bn, ", ", H, ", ", P,
               ", ", N, "]");
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) {
    auto d = dt.select(1, t);  // [B, H]
    auto decay = at::exp(d * A).unsqueeze(-1).unsqueeze(-1);                  // [B, H, 1, 1]
    auto inp = (d.unsqueeze(-1) * x.select(1, t)).unsqueeze(-1);              // [B, H, P, 1]
    s = decay * s + inp * Bm.select(1, t).unsqueeze(2);                       // [B, H, P, N]
    ys.push_back((s * C.select(1, t).unsqueeze(2)).sum(-1));                  // [B, H, P]
  }
  state = s;
  auto y = at::stack(ys, 1);  // [B, L, H, P]
  if (D_in.defined()) y = y + x * D_in.to(at::kFloat).view({1, 1, H, 1});
  return y;
}

}  // namespace quench
