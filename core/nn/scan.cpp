#include "core/nn/scan.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/selective_scan.h"
#include "core/util/error.h"

namespace quench {

namespace {
bool cpu_float(const at::Tensor& t) { return t.device().is_cpu(); }

void check_scan_shapes(const char* op, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& Bm,
                       const at::Tensor& C, const at::Tensor& Dskip) {
  QUENCH_CHECK(u.defined() && u.dim() == 3, op, ": u must be [B, L, D]");
  const int64_t Bn = u.size(0), L = u.size(1), Dn = u.size(2);
  QUENCH_CHECK(delta.defined() && delta.sizes() == u.sizes(), op, ": delta ", delta.sizes(), " != u ", u.sizes());
  QUENCH_CHECK(A.defined() && A.dim() == 2 && A.size(0) == Dn, op, ": A must be [", Dn, ", N], got ", A.sizes());
  const int64_t N = A.size(1);
  QUENCH_CHECK(Bm.defined() && C.defined() && Bm.sizes() == at::IntArrayRef({Bn, L, N}) && C.sizes() == Bm.sizes(), op,
               ": B/C must be [", Bn, ", ", L, ", ", N, "], got ", Bm.sizes(), " and ", C.sizes());
  QUENCH_CHECK(!Dskip.defined() || Dskip.numel() == Dn, op, ": D must have ", Dn, " entries, got ", Dskip.sizes());
  for (const at::Tensor* t : {&delta, &A, &Bm, &C})
    QUENCH_CHECK(t->device() == u.device(), op, ": inputs on different devices (", u.device(), " and ", t->device(), ")");
}

// The CPU reference recurrence, generic over how inputs are read (float32 arrays, or int8 arrays
// dequantized on the fly): h[n] ← exp(a[n]·δ)·h[n] + δ·u·B[n], y = Σ h[n]·C[n] + D·u.
template <typename LoadU, typename LoadDt, typename LoadB, typename LoadC>
void scan_loop(int64_t Bn, int64_t L, int64_t Dn, int64_t N, const float* pA, const float* pD, float* py, LoadU load_u,
               LoadDt load_dt, LoadB load_b, LoadC load_c) {
  at::parallel_for(0, Bn * Dn, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> h(static_cast<size_t>(N));
    for (int64_t bd = begin; bd < end; ++bd) {
      const int64_t b = bd / Dn, d = bd % Dn;
      std::fill(h.begin(), h.end(), 0.f);
      const float* a = pA + d * N;
      const float dk = pD ? pD[d] : 0.f;
      for (int64_t t = 0; t < L; ++t) {
        const int64_t i = (b * L + t) * Dn + d;
        const int64_t j = (b * L + t) * N;
        const float dt = load_dt(i, d), x = load_u(i), dx = dt * x;
        float acc = 0.f;
        for (int64_t n = 0; n < N; ++n) {
          h[n] = std::exp(a[n] * dt) * h[n] + dx * load_b(j + n);
          acc += h[n] * load_c(j + n);
        }
        py[i] = acc + dk * x;
      }
    }
  });
}
}  // namespace

at::Tensor selective_scan(const at::Tensor& u_in, const at::Tensor& delta_in, const at::Tensor& A_in,
                          const at::Tensor& B_in, const at::Tensor& C_in, const at::Tensor& D_in) {
  check_scan_shapes("selective_scan", u_in, delta_in, A_in, B_in, C_in, D_in);
  const int64_t Bn = u_in.size(0), L = u_in.size(1), Dn = u_in.size(2), N = A_in.size(1);
  if (cpu_float(u_in)) {
    auto u = u_in.to(at::kFloat).contiguous(), dl = delta_in.to(at::kFloat).contiguous();
    auto A = A_in.to(at::kFloat).contiguous(), Bm = B_in.to(at::kFloat).contiguous(), C = C_in.to(at::kFloat).contiguous();
    auto Dk = D_in.defined() ? D_in.to(at::kFloat).contiguous() : at::Tensor();
    auto y = at::empty({Bn, L, Dn}, u.options());
    const float *pu = u.data_ptr<float>(), *pd = dl.data_ptr<float>();
    const float *pB = Bm.data_ptr<float>(), *pC = C.data_ptr<float>();
    scan_loop(Bn, L, Dn, N, A.data_ptr<float>(), Dk.defined() ? Dk.data_ptr<float>() : nullptr, y.data_ptr<float>(),
              [&](int64_t i) { return pu[i]; }, [&](int64_t i, int64_t) { return pd[i]; }, [&](int64_t j) { return pB[j]; },
              [&](int64_t j) { return pC[j]; });
    return y.to(u_in.scalar_type());
  }
  if (u_in.is_cuda()) {
    ops::ScanKernelInputs in;
    in.u = u_in, in.delta = delta_in, in.A = A_in, in.B = B_in, in.C = C_in, in.D = D_in;
    at::Tensor y = ops::selective_scan_cuda(in);
    if (y.defined()) return y.scalar_type() == u_in.scalar_type() ? y : y.to(u_in.scalar_type());
  }
  return selective_scan_torch_loop(u_in, delta_in, A_in, B_in, C_in, D_in);
}

at::Tensor selective_scan_torch_loop(const at::Tensor& u_in, const at::Tensor& delta_in, const at::Tensor& A_in,
                                     const at::Tensor& B_in, const at::Tensor& C_in, const at::Tensor& D_in) {
  check_scan_shapes("selective_scan", u_in, delta_in, A_in, B_in, C_in, D_in);
  const int64_t Bn = u_in.size(0), L = u_in.size(1), Dn = u_in.size(2), N = A_in.size(1);
  // Float32 state, one step at a time.
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
  auto y = at::stack(ys, 1);
  if (D_in.defined()) y = y + u * D_in.to(at::kFloat);
  return y.to(u_in.scalar_type());
}

at::Tensor selective_scan_int8(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A_in, const at::Tensor& Bm,
                               const at::Tensor& C, const at::Tensor& D_in, const ScanInt8Scales& sc, const at::Tensor& bias_in,
                               bool delta_softplus, at::ScalarType out_dtype) {
  check_scan_shapes("selective_scan_int8", u, delta, A_in, Bm, C, D_in);
  for (const at::Tensor* t : {&u, &delta, &Bm, &C})
    QUENCH_CHECK(t->scalar_type() == at::kChar, "selective_scan_int8: u, delta, B and C must be int8, got ", t->scalar_type());
  QUENCH_CHECK(out_dtype == at::kHalf || out_dtype == at::kFloat, "selective_scan_int8: out_dtype must be float16 or float32");
  for (float s : {sc.u, sc.delta, sc.B, sc.C})
    QUENCH_CHECK(std::isfinite(s) && s > 0.f, "selective_scan_int8: scales must be finite and > 0, got ", s);
  const int64_t Bn = u.size(0), L = u.size(1), Dn = u.size(2), N = A_in.size(1);
  QUENCH_CHECK(!bias_in.defined() || bias_in.numel() == Dn, "selective_scan_int8: delta_bias must have ", Dn, " entries");
  if (u.is_cuda()) {
    ops::ScanKernelInputs in;
    in.u = u, in.delta = delta, in.A = A_in, in.B = Bm, in.C = C, in.D = D_in, in.delta_bias = bias_in;
    in.delta_softplus = delta_softplus;
    in.u_scale = sc.u, in.delta_scale = sc.delta, in.B_scale = sc.B, in.C_scale = sc.C;
    in.out_dtype = out_dtype;
    at::Tensor y = ops::selective_scan_cuda(in);
    if (y.defined()) return y;
  }
  // Reference (also the fallback for other devices or N > 16): int8 read directly, dequantized as
  // q·scale in float32 exactly as the kernel does.
  const at::Device dev = u.device();
  const at::Tensor qu = u.cpu().contiguous(), qd = delta.cpu().contiguous(), qb = Bm.cpu().contiguous(), qc = C.cpu().contiguous();
  const at::Tensor A = A_in.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor Dk = D_in.defined() ? D_in.to(at::kCPU, at::kFloat).contiguous() : at::Tensor();
  const at::Tensor bias = bias_in.defined() ? bias_in.to(at::kCPU, at::kFloat).contiguous() : at::Tensor();
  const int8_t *pu = qu.data_ptr<int8_t>(), *pd = qd.data_ptr<int8_t>(), *pb = qb.data_ptr<int8_t>(), *pc = qc.data_ptr<int8_t>();
  const float* pbias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  auto y = at::empty({Bn, L, Dn}, at::kFloat);
  scan_loop(
      Bn, L, Dn, N, A.data_ptr<float>(), Dk.defined() ? Dk.data_ptr<float>() : nullptr, y.data_ptr<float>(),
      [&](int64_t i) { return static_cast<float>(pu[i]) * sc.u; },
      [&](int64_t i, int64_t d) {
        float dt = static_cast<float>(pd[i]) * sc.delta + (pbias ? pbias[d] : 0.f);
        if (delta_softplus) dt = dt <= 20.f ? std::log1p(std::exp(dt)) : dt;
        return dt;
      },
      [&](int64_t j) { return static_cast<float>(pb[j]) * sc.B; }, [&](int64_t j) { return static_cast<float>(pc[j]) * sc.C; });
  return y.to(dev, out_dtype);
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
  return ssd_scan_chunked(x_in, dt_in, A_in, B_in, C_in, D_in);
}

at::Tensor ssd_scan_chunked(const at::Tensor& x_in, const at::Tensor& dt_in, const at::Tensor& A_in, const at::Tensor& B_in,
                            const at::Tensor& C_in, const at::Tensor& D_in, int64_t chunk) {
  const int64_t Bn = x_in.size(0), L = x_in.size(1), H = x_in.size(2), P = x_in.size(3);
  const int64_t G = B_in.size(2), N = B_in.size(3);
  QUENCH_CHECK(G > 0 && H % G == 0, "ssd_scan: ", H, " heads are not a multiple of ", G, " groups");
  QUENCH_CHECK(chunk > 0, "ssd_scan: chunk must be positive");
  const int64_t E = H / G, Q = std::min(chunk, std::max<int64_t>(L, 1)), c = (L + Q - 1) / Q, pad = c * Q - L;
  // Padded steps have dt = 0: no decay and no input, so they change no state; their outputs are cut.
  auto padded = [&](const at::Tensor& t, bool to_float) {
    at::Tensor f = to_float ? t.to(at::kFloat) : t;
    if (pad == 0) return f;
    std::vector<int64_t> sz = f.sizes().vec();
    sz[1] = pad;
    return at::cat({f, at::zeros(sz, f.options())}, 1);
  };
  // x stays in its dtype: the one product that reads it promotes to float32 as it goes.
  const at::Tensor x = padded(x_in, false), dt = padded(dt_in, true), Bm = padded(B_in, true), C = padded(C_in, true);
  const auto fopts = dt.options();
  const at::Tensor D = D_in.to(at::kFloat).view({1, 1, 1, G, E, 1});
  const at::Tensor xt = x.reshape({Bn, c, Q, G, E, P});  // token-major
  // Log decay of each step, cumulated within its chunk: [b, c, g, e, l].
  const at::Tensor a_cum = (dt * A_in.to(at::kFloat)).reshape({Bn, c, Q, G, E}).permute({0, 1, 3, 4, 2}).cumsum(-1);
  const at::Tensor dt_t = dt.reshape({Bn, c, Q, G, E, 1});
  const at::Tensor Bg = Bm.reshape({Bn, c, Q, G, N}).permute({0, 1, 3, 2, 4}), Cg = C.reshape({Bn, c, Q, G, N}).permute({0, 1, 3, 2, 4});
  // Token-major [b, c, l, g, e, p] views of head-major [b, c, g, e, l, p] tensors and back.
  auto token_major = [](const at::Tensor& t) { return t.permute({0, 1, 4, 2, 3, 5}); };

  // 1. Within each chunk: y_l = Σ_{s ≤ l} (C_l · B_s) exp(a_cum_l − a_cum_s) Δ_s x_s, one [Q, Q]
  //    matrix per head and chunk, built in place (masked entries are −∞ before exp, so 0 after),
  //    multiplying the head-major discretized input.
  at::Tensor y;  // [b, c, g, e, l, p]
  {
    at::Tensor X = at::empty({Bn, c, G, E, Q, P}, fopts);
    at::Tensor X_tokens = token_major(X);  // writes land in X
    at::mul_out(X_tokens, xt, dt_t);
    // a_cum_l − a_cum_s loses a little to cancellation as the sums grow along a chunk (≈1e-6
    // relative at chunk 64 against a float64 recurrence, 5e-6 at 256; the masked cumulative sums
    // it replaces were exact to 1e-7); mamba_ssm's kernels compute it the same way.
    const at::Tensor upper = at::ones({Q, Q}, fopts.dtype(at::kBool)).triu(1);
    at::Tensor W = a_cum.unsqueeze(-1) - a_cum.unsqueeze(-2);  // [b, c, g, e, l, s]
    W.masked_fill_(upper, -std::numeric_limits<float>::infinity()).exp_().mul_(at::matmul(Cg, Bg.transpose(-1, -2)).unsqueeze(3));
    y = at::matmul(W, X);
  }
  // The output, token-major: the skip connection, then the within-chunk part.
  at::Tensor out = at::empty({Bn, c, Q, G, E, P}, fopts);
  at::mul_out(out, xt, D);
  out.add_(token_major(y));
  y.reset();
  if (c > 1) {
    // 2. Each chunk's final state from its own inputs, Σ_l exp(a_cum_end − a_cum_l) Δ_l B_l ⊗ x_l,
    //    as [b, c, g, n, e·p] (token-major input, so e and p fold into one matrix dimension).
    at::Tensor S;
    {
      const at::Tensor to_end = at::exp(a_cum.narrow(-1, Q - 1, 1) - a_cum).permute({0, 1, 4, 2, 3}).unsqueeze(-1);  // [b, c, l, g, e, 1]
      at::Tensor Xe = at::empty({Bn, c, Q, G, E, P}, fopts);
      at::mul_out(Xe, xt, dt_t * to_end);
      S = at::matmul(Bg.transpose(-1, -2), Xe.permute({0, 1, 3, 2, 4, 5}).reshape({Bn, c, G, Q, E * P}));
    }
    // 3. Across chunks, in place: S[k] becomes the state after chunk k, S[k] += decay(k) · S[k − 1].
    const at::Tensor S6 = S.view({Bn, c, G, N, E, P});
    const at::Tensor chunk_decay = at::exp(a_cum.select(-1, Q - 1)).view({Bn, c, G, 1, E, 1});
    for (int64_t k = 1; k < c; ++k) S6.select(1, k).addcmul_(S6.select(1, k - 1), chunk_decay.select(1, k));
    // 4. What the state entering chunk k (S[k − 1]) adds to its outputs: C_l · state, decayed to step l.
    const at::Tensor y_off = at::matmul(Cg.narrow(1, 1, c - 1), S.narrow(1, 0, c - 1)).view({Bn, c - 1, G, Q, E, P});
    const at::Tensor from_start = at::exp(a_cum.narrow(1, 1, c - 1)).permute({0, 1, 4, 2, 3}).unsqueeze(-1);  // [b, c-1, l, g, e, 1]
    out.narrow(1, 1, c - 1).addcmul_(y_off.permute({0, 1, 3, 2, 4, 5}), from_start);
  }
  const at::Tensor y_all = out.view({Bn, c * Q, H, P});
  return pad == 0 ? y_all : y_all.narrow(1, 0, L).contiguous();
}

}  // namespace quench
