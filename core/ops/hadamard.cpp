#include "core/ops/hadamard.h"

#include <cmath>

#include "core/ops/device.h"
#include "core/util/error.h"
#include "kernels/hadamard_k.h"

#if QUENCH_WITH_CUDA
#include "kernels/hadamard.h"
#endif

namespace quench::ops {

namespace {

void check_n(int64_t n, const char* op) {
  QUENCH_CHECK(hadamard_supported(n), op, ": n = ", n, " is not K·2^m with K in {1, 12, 20, 28}");
}

// H_K as a float64 [K, K] tensor of ±1.
at::Tensor hk_matrix(int64_t k) {
  const auto t = kernels::hadamard_k::table(static_cast<int>(k));
  at::Tensor h = at::empty({k, k}, at::kDouble);
  double* p = h.data_ptr<double>();
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) p[i * k + j] = ((t.neg[i] >> j) & 1u) ? -1.0 : 1.0;
  return h;
}

// The same float32 factor on CPU and GPU.
float scale_for(int64_t n, bool normalize) { return normalize ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 1.f; }

// Reference: the butterflies of H_{2^m} on [R, K, M] with tensor ops, then H_K as a [K, K] product.
at::Tensor reference(const at::Tensor& x, int64_t n, float scale) {
  const int64_t K = hadamard_k(n), M = n / K;
  const int64_t R = n > 0 ? x.numel() / n : 0;
  at::Tensor y = x.to(at::kFloat).contiguous().view({R, K, M});
  for (int64_t h = 1; h < M; h *= 2) {
    auto v = y.view({R, K, M / (2 * h), 2, h});
    auto a = v.select(3, 0), b = v.select(3, 1);
    y = at::stack({a + b, a - b}, 3).view({R, K, M});
  }
  if (K > 1) y = at::matmul(hk_matrix(K).to(at::kFloat), y);
  return (y * scale).view(x.sizes());
}

}  // namespace

int64_t hadamard_k(int64_t n) { return kernels::hadamard_k::factor_k(n); }
bool hadamard_supported(int64_t n) { return hadamard_k(n) != 0; }

void hadamard_transform_out(const at::Tensor& x, at::Tensor& out, bool normalize) {
  QUENCH_CHECK(x.defined() && x.dim() >= 1, "hadamard_transform: x must have at least 1 dim");
  const auto t = x.scalar_type();
  QUENCH_CHECK(t == at::kFloat || t == at::kHalf || t == at::kBFloat16, "hadamard_transform: x must be float32, float16 or bfloat16, got ",
               detail::dtype_name(t));
  const int64_t n = x.size(-1);
  check_n(n, "hadamard_transform");
  QUENCH_CHECK(out.defined() && out.sizes() == x.sizes() && out.scalar_type() == t && out.device() == x.device() && out.is_contiguous(),
               "hadamard_transform: out must be a contiguous ", detail::dtype_name(t), " ", x.sizes(), " on ", x.device());
  const float scale = scale_for(n, normalize);
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x)) {
    const c10::DeviceGuard guard(x.device());
    const at::Tensor xc = x.contiguous();
    kernels::HadamardParams p;
    p.x = xc.data_ptr();
    p.out = out.data_ptr();
    p.dtype = detail::kernel_dtype(t, "hadamard_transform");
    p.rows = x.numel() / n;
    p.n = n;
    p.scale = scale;
    const auto st = kernels::hadamard_transform(p, detail::stream_for(x));
    if (st.code == kernels::StatusCode::Unsupported && p.rows > 0) {
      // n beyond one block's shared memory: the same butterflies through libtorch on the GPU.
      out.copy_(reference(xc, n, scale));
      return;
    }
    detail::check(st, "hadamard_transform");
    return;
  }
#endif
  out.copy_(reference(x, n, scale));
}

at::Tensor hadamard_transform(const at::Tensor& x, bool normalize) {
  QUENCH_CHECK(x.defined(), "hadamard_transform: x is undefined");
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  hadamard_transform_out(x, out, normalize);
  return out;
}

at::Tensor hadamard_matrix(int64_t n, at::ScalarType dtype, bool normalize) {
  check_n(n, "hadamard_matrix");
  const int64_t K = hadamard_k(n), M = n / K;
  // Sylvester: H_M[i][j] = (-1)^popcount(i & j).
  at::Tensor hm = at::empty({M, M}, at::kDouble);
  double* p = hm.data_ptr<double>();
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < M; ++j) p[i * M + j] = (__builtin_popcountll(static_cast<unsigned long long>(i & j)) & 1) ? -1.0 : 1.0;
  at::Tensor h = K > 1 ? at::kron(hk_matrix(K), hm) : hm;
  if (normalize) h = h / std::sqrt(static_cast<double>(n));
  return h.to(dtype);
}

}  // namespace quench::ops
