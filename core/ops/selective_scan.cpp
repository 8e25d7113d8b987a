#include "core/ops/selective_scan.h"

#include "core/ops/device.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/selective_scan.h"
#endif

namespace quench::ops {

#if QUENCH_WITH_CUDA
namespace {
// The kernel reads [B, L, last] with the last dim contiguous and any batch/time strides: the
// model's B and C are column slices of the x_proj output and go in without a copy.
at::Tensor last_contiguous(const at::Tensor& t, at::ScalarType dtype) {
  at::Tensor r = t.scalar_type() == dtype ? t : t.to(dtype);
  return r.stride(-1) == 1 ? r : r.contiguous();
}
}  // namespace

at::Tensor selective_scan_cuda(const ScanKernelInputs& in) {
  const int64_t Bn = in.u.size(0), L = in.u.size(1), Dn = in.u.size(2), N = in.A.size(1);
  if (N > kernels::kSelectiveScanMaxState || Bn > 65535) return at::Tensor();
  const bool int8 = in.u.scalar_type() == at::kChar;
  at::ScalarType ty = at::kChar;
  if (int8) {
    QUENCH_CHECK(in.delta.scalar_type() == at::kChar && in.B.scalar_type() == at::kChar && in.C.scalar_type() == at::kChar,
                 "selective_scan_int8: u, delta, B and C must all be int8");
  } else {
    ty = at::promote_types(at::promote_types(in.u.scalar_type(), in.delta.scalar_type()),
                           at::promote_types(in.B.scalar_type(), in.C.scalar_type()));
    if (ty != at::kFloat && ty != at::kHalf && ty != at::kBFloat16) ty = at::kFloat;
  }
  const c10::DeviceGuard guard(in.u.device());
  const at::Tensor u = last_contiguous(in.u, ty), dl = last_contiguous(in.delta, ty);
  const at::Tensor Bm = last_contiguous(in.B, ty), Cm = last_contiguous(in.C, ty);
  const at::Tensor A = in.A.to(at::kFloat).contiguous();
  const at::Tensor D = in.D.defined() ? in.D.to(at::kFloat).contiguous() : at::Tensor();
  const at::Tensor bias = in.delta_bias.defined() ? in.delta_bias.to(at::kFloat).contiguous() : at::Tensor();
  const at::ScalarType out_ty = int8 ? in.out_dtype : ty;
  at::Tensor y = at::empty({Bn, L, Dn}, u.options().dtype(out_ty));

  kernels::SelectiveScanParams p;
  p.in_dtype = detail::kernel_dtype(ty, "selective_scan");
  p.out_dtype = detail::kernel_dtype(out_ty, "selective_scan");
  p.batch = Bn;
  p.len = L;
  p.dim = Dn;
  p.state = N;
  p.u = u.data_ptr();
  p.u_batch_stride = u.stride(0);
  p.u_len_stride = u.stride(1);
  p.delta = dl.data_ptr();
  p.delta_batch_stride = dl.stride(0);
  p.delta_len_stride = dl.stride(1);
  p.B = Bm.data_ptr();
  p.B_batch_stride = Bm.stride(0);
  p.B_len_stride = Bm.stride(1);
  p.C = Cm.data_ptr();
  p.C_batch_stride = Cm.stride(0);
  p.C_len_stride = Cm.stride(1);
  p.A = A.data_ptr<float>();
  p.D = D.defined() ? D.data_ptr<float>() : nullptr;
  p.delta_bias = bias.defined() ? bias.data_ptr<float>() : nullptr;
  p.delta_softplus = in.delta_softplus;
  if (int8) {
    p.u_scale = in.u_scale;
    p.delta_scale = in.delta_scale;
    p.B_scale = in.B_scale;
    p.C_scale = in.C_scale;
  }
  p.y = y.data_ptr();
  const auto st = kernels::selective_scan(p, detail::stream_for(u));
  if (st.code == kernels::StatusCode::Unsupported) return at::Tensor();
  detail::check(st, "selective_scan");
  return y;
}
#else
at::Tensor selective_scan_cuda(const ScanKernelInputs&) { return at::Tensor(); }
#endif

}  // namespace quench::ops
