#include "core/nn/scan.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include "core/util/error.h"

namespace quench {

namespace {
bool cpu_float(const at::Tensor& t) { return t.device().is_cpu(); }
}  // namespace

at::Tensor selective_scan(const at::Tensor& u_in, const at::Tensor& delta_in, const at::Tensor& A_in,
                          const at::Tensor& B_in, const at::Tensor& C_in, const at::Tensor& D_in) {
  const int64_t Bn = u_in.size(0), L = u_in.size(1), Dn = u_in.size(2), N = A_in.size(1);
  QUENCH_CHECK(delta_in.sizes() == u_in.sizes(), "selective_scan: delta ", delta_in.sizes(), " != u ", u_in.sizes());
  QUENCH_CHECK(A_in.size(0) == Dn, "selective_scan: A has ", A_in.size(0), " rows for ", Dn, " channels");
  QUENCH_CHECK(B_in.sizes() == at::IntArrayRef({Bn, L, N}) && C_in.sizes() == B_in.sizes(), "selective_scan: B/C must be [",
               Bn, ", ", L, ", ", N, "], got ", B_in.sizes(), " and ", C_in.sizes());
  if (cpu_float(u_in)) {
    auto u = u_in.to(at::kFloat).contiguous(), dl = delta_in.to(at::kFloat).contiguous();
    auto A = A_in.to(at::kFloat).contiguous(), Bm = B_in.to(at::kFloat).contiguous(), C = C_in.to(at::kFloat).contiguous();
    auto Dk = D_in.to(at::kFloat).contiguous();
    auto y = at::empty({Bn, L, Dn}, u.options());
    const float *pu = u.data_ptr<float>(), *pd = dl.data_ptr<float>(), *pA = A.data_ptr<float>();
    const float *pB = Bm.data_ptr<float>(), *pC = C.data_ptr<float>(), *pD = Dk.data_ptr<float>();
    float* py = y.data_ptr<float>();
    at::parallel_for(0, Bn * Dn, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> h(static_cast<size_t>(N));
      for (int64_t bd = begin; bd < end; ++bd) {
        const int64_t b = bd / Dn, d = bd % Dn;
        std::fill(h.begin(), h.end(), 0.f);
        const float* a = pA + d * N;
        for (int64_t t = 0; t < L; ++t) {
          const int64_t i = (b * L + t) * Dn + d;
          const float dt = pd[i], x = pu[i], dx = dt * x;
          const float* bt = pB + (b * L + t) * N;
          const float* ct = pC + (b * L + t) * N;
          float acc = 0.f;
          for (int64_t n = 0; n < N; ++n) {
            h[n] = std::exp(a[n] * dt) * h[n] + dx * bt[n];
            acc += h[n] * ct[n];
          }
          py[i] = acc + pD[d] * x;
        }
      }
    });
    return y.to(u_in.scalar_type());
  }
  // Generic path: float32 state, one step at a time.
  auto u = u_in.to(at::kFloat), dl = delta_in.to(at::kFloat), A = A_in.to(at::kFloat);
  auto Bm = B_in.to(at::kFloat), C = C_in.to(at::kFloat);
  auto h = at::zeros({Bn, Dn, N}, u.options());
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) {
    auto dt = dl.select(1, t).unsqueeze(-1);  // [B, D, 1]
    h = at::exp(A.unsqueeze(0) * dt) * h + (dt * u.select(1, t).unsqueeze(-1)) * Bm.select(1, t).unsqueeze(1);
    ys.push_back((h * C.select(1, t).unsqueeze(1)).sum(-1));
  }
  auto y = at::stack(ys, 1) + u * D_in.to(at::kFloat);
  return y.to(u_in.scalar_type());
}

at::Tensor ssd_scan(const at::Tensor& x_in, const at::Tensor& dt_in, const at::Tensor& A_in, const at::Tensor& B_in,
                    const at::Tensor& C_in, const at::Tensor& D_in) {
  const int64_t Bn = x_in.size(0), L = x_in.size(1), H = x_in.size(2), P = x_in.size(3);
  const int64_t G = B_in.size(2), N = B_in.size(3);
  QUENCH_CHECK(dt_in.sizes() == at::IntArrayRef({Bn, L, H}), "ssd_scan: dt must be [", Bn, ", ", L, ", ", H, "], got ", dt_in.sizes());
  QUENCH_CHECK(G > 0 && H % G == 0, "ssd_scan: ", H, " heads are not a multiple of ", G, " groups");
  QUENCH_CHECK(C_in.sizes() == B_in.sizes(), "ssd_scan: C ", C_in.sizes(), " != B ", B_in.sizes());
  const int64_t hpg = H / G;
  if (cpu_float(x_in)) {
    auto x = x_in.to(at::kFloat).contiguous(), dt = dt_in.to(at::kFloat).contiguous(), A = A_in.to(at::kFloat).contiguous();
    auto Bm = B_in.to(at::kFloat).contiguous(), C = C_in.to(at::kFloat).contiguous(), Dk = D_in.to(at::kFloat).contiguous();
    auto y = at::empty({Bn, L, H, P}, x.options());
    const float *px = x.data_ptr<float>(), *pdt = dt.data_ptr<float>(), *pA = A.data_ptr<float>();
    const float *pB = Bm.data_ptr<float>(), *pC = C.data_ptr<float>(), *pD = Dk.data_ptr<float>();
    float* py = y.data_ptr<float>();
    at::parallel_for(0, Bn * H, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> s(static_cast<size_t>(P * N));
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t b = bh / H, hh = bh % H, g = hh / hpg;
        std::fill(s.begin(), s.end(), 0.f);
        for (int64_t t = 0; t < L; ++t) {
          const float d = pdt[(b * L + t) * H + hh];
          const float decay = std::exp(d * pA[hh]);
          const float* bt = pB + ((b * L + t) * G + g) * N;
          const float* ct = pC + ((b * L + t) * G + g) * N;
          const float* xt = px + ((b * L + t) * H + hh) * P;
          float* yt = py + ((b * L + t) * H + hh) * P;
          for (int64_t p = 0; p < P; ++p) {
            float* sp = s.data() + p * N;
            const float dx = d * xt[p];
            float acc = 0.f;
            for (int64_t n = 0; n < N; ++n) {
              sp[n] = decay * sp[n] + dx * bt[n];
              acc += sp[n] * ct[n];
            }
            yt[p] = acc + pD[hh] * xt[p];
          }
        }
      }
    });
    return y;
  }
  auto x = x_in.to(at::kFloat), dt = dt_in.to(at::kFloat), A = A_in.to(at::kFloat);
  auto Bm = B_in.to(at::kFloat).repeat_interleave(hpg, 2), C = C_in.to(at::kFloat).repeat_interleave(hpg, 2);  // [B, L, H, N]
  auto s = at::zeros({Bn, H, P, N}, x.options());
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(L));
  for (int64_t t = 0; t < L; ++t) {
    auto d = dt.select(1, t);  // [B, H]
    auto decay = at::exp(d * A).view({Bn, H, 1, 1});
    auto xt = x.select(1, t);  // [B, H, P]
    s = decay * s + (d.unsqueeze(-1) * xt).unsqueeze(-1) * Bm.select(1, t).unsqueeze(2);
    ys.push_back(at::matmul(s, C.select(1, t).unsqueeze(-1)).squeeze(-1));  // [B, H, P]
  }
  return at::stack(ys, 1) + x * D_in.to(at::kFloat).view({1, 1, H, 1});
}

}  // namespace quench
