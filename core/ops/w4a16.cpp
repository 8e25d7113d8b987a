#include "core/ops/w4a16.h"

#include <cstdint>

#include "core/ops/device.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/w4a16.h"
#endif

namespace quench::ops {

bool w4a16_on_kernel(const at::Tensor& x2d, int64_t group) {
#if QUENCH_WITH_CUDA
  const at::ScalarType t = x2d.scalar_type();
  return detail::on_cuda(x2d) && x2d.dim() == 2 && (t == at::kHalf || t == at::kBFloat16) &&
         kernels::w4a16_supported(x2d.size(0), x2d.size(1), group);
#else
  (void)x2d, (void)group;
  return false;
#endif
}

at::Tensor w4a16_linear(const at::Tensor& x2d, const at::Tensor& qweight, const at::Tensor& scale, const at::Tensor& zero, int64_t group) {
  QUENCH_CHECK(w4a16_on_kernel(x2d, group), "w4a16_linear: no kernel for x ", x2d.sizes(), " (", x2d.device(), ", ",
               detail::dtype_name(x2d.scalar_type()), ") with groups of ", group);
#if QUENCH_WITH_CUDA
  const int64_t m = x2d.size(0), k = x2d.size(1), n = qweight.size(0), groups = (k + group - 1) / group;
  QUENCH_CHECK(qweight.scalar_type() == at::kInt && qweight.is_contiguous() && qweight.dim() == 2 && qweight.size(1) == k / 8 &&
                   scale.scalar_type() == at::kFloat && scale.is_contiguous() && scale.sizes() == at::IntArrayRef({n, groups}) &&
                   (!zero.defined() || (zero.scalar_type() == at::kInt && zero.is_contiguous() && zero.sizes() == scale.sizes())),
               "w4a16_linear: qweight I32 [n, k/8], scale F32 [n, groups] and zero I32 like scale must be contiguous; got ",
               qweight.sizes(), ", ", scale.sizes());
  QUENCH_CHECK(qweight.device() == x2d.device() && scale.device() == x2d.device() && (!zero.defined() || zero.device() == x2d.device()),
               "w4a16_linear: the packed weights are on ", qweight.device(), ", x on ", x2d.device());
  at::Tensor x = x2d.contiguous();
  // The kernel reads x in 16-byte units: a view starting mid-allocation is copied first.
  if (reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 != 0) x = x.clone();
  at::Tensor y = at::empty({m, n}, x.options());
  const c10::DeviceGuard guard(x.device());
  kernels::W4A16Params p;
  p.dtype = detail::kernel_dtype(x.scalar_type(), "w4a16_linear");
  p.x = x.data_ptr();
  p.qweight = qweight.data_ptr<int32_t>();
  p.scale = scale.data_ptr<float>();
  p.zero = zero.defined() ? zero.data_ptr<int32_t>() : nullptr;
  p.y = y.data_ptr();
  p.m = m;
  p.n = n;
  p.k = k;
  p.group = group;
  detail::check(kernels::w4a16_gemm(p, detail::stream_for(x)), "w4a16_linear");
  return y;
#else
  (void)qweight, (void)scale, (void)zero;
  return {};
#endif
}

}  // namespace quench::ops
