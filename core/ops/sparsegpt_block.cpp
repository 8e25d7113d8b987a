#include "core/ops/sparsegpt_block.h"

#include "core/ops/device.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/sparsegpt.h"
#endif

namespace quench::ops {

bool sparsegpt_block_on_kernel(const at::Tensor& W, int64_t count, int m) {
#if QUENCH_WITH_CUDA
  return detail::on_cuda(W) && count <= kernels::kSparseGptMaxBlock && m <= kernels::kSparseGptMaxM;
#else
  (void)W, (void)count, (void)m;
  return false;
#endif
}

void sparsegpt_block(const at::Tensor& W, at::Tensor& Q, at::Tensor& Err, const at::Tensor& U, at::Tensor& keep, int64_t i1, int64_t count,
                     int n, int m, at::Tensor& loss) {
  QUENCH_CHECK(sparsegpt_block_on_kernel(W, count, m), "sparsegpt_block: no kernel for this weight (", W.device(), ", block of ", count,
               " columns)");
#if QUENCH_WITH_CUDA
  const int64_t out = W.size(0), in = W.size(1);
  QUENCH_CHECK(W.is_contiguous() && Q.is_contiguous() && U.is_contiguous() && Err.is_contiguous() && keep.is_contiguous() &&
                   W.scalar_type() == at::kFloat && Q.scalar_type() == at::kFloat && U.scalar_type() == at::kFloat &&
                   Err.scalar_type() == at::kFloat && keep.scalar_type() == at::kBool && Q.sizes() == W.sizes() && keep.sizes() == W.sizes() &&
                   U.size(0) == in && U.size(1) == in && Err.size(0) == out && Err.size(1) == count && i1 + count <= in,
               "sparsegpt_block: W, Q [out, in] float32, keep [out, in] bool, U [in, in] and Err [out, count] float32, all contiguous");
  const c10::DeviceGuard guard(W.device());
  kernels::SparseGptBlockParams k;
  k.w = W.data_ptr<float>() + i1;
  k.q = Q.data_ptr<float>() + i1;
  k.err = Err.data_ptr<float>();
  k.u = U.data_ptr<float>() + i1 * in + i1;
  // torch stores bool as one byte holding 0 or 1.
  k.keep = reinterpret_cast<uint8_t*>(keep.data_ptr<bool>()) + i1;
  k.rows = out;
  k.count = count;
  k.ld = in;
  k.ldu = in;
  k.ld_keep = in;
  k.n = n;
  k.m = m;
  k.loss = loss.data_ptr<double>();
  detail::check(kernels::sparsegpt_block(k, detail::stream_for(W)), "sparsegpt_block");
#else
  (void)Q, (void)Err, (void)U, (void)keep, (void)i1, (void)n, (void)loss;
#endif
}

}  // namespace quench::ops
