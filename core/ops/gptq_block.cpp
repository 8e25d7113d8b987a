#include "core/ops/gptq_block.h"

#include "core/ops/device.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/gptq.h"
#endif

namespace quench::ops {

bool gptq_block_on_kernel(const at::Tensor& W, const QuantSpec& spec, int64_t count) {
#if QUENCH_WITH_CUDA
  return detail::on_cuda(W) && spec.granularity != Granularity::Column && count <= kernels::kGptqMaxBlock;
#else
  (void)W, (void)spec, (void)count;
  return false;
#endif
}

void gptq_block(const at::Tensor& W, at::Tensor& Q, at::Tensor& Err, const at::Tensor& U, int64_t i1, int64_t count, const QuantSpec& spec,
                const QuantParams& given, at::Tensor& scale_out, at::Tensor& zero_out, at::Tensor& loss) {
  QUENCH_CHECK(gptq_block_on_kernel(W, spec, count), "gptq_block: no kernel for this weight (", W.device(), ", block of ", count, " columns)");
#if QUENCH_WITH_CUDA
  const int64_t out = W.size(0), in = W.size(1);
  QUENCH_CHECK(W.is_contiguous() && Q.is_contiguous() && U.is_contiguous() && Err.is_contiguous() && W.scalar_type() == at::kFloat &&
                   Q.scalar_type() == at::kFloat && U.scalar_type() == at::kFloat && Err.scalar_type() == at::kFloat &&
                   U.size(0) == in && U.size(1) == in && Err.size(0) == out && Err.size(1) == count && i1 + count <= in,
               "gptq_block: W, Q [out, in], U [in, in] and Err [out, count] must be contiguous float32");
  const c10::DeviceGuard guard(W.device());
  kernels::GptqBlockParams k;
  k.w = W.data_ptr<float>() + i1;
  k.q = Q.data_ptr<float>() + i1;
  k.err = Err.data_ptr<float>();
  k.u = U.data_ptr<float>() + i1 * in + i1;
  k.rows = out;
  k.count = count;
  k.ld = in;
  k.ldu = in;
  k.bits = spec.bits;
  k.symmetric = spec.symmetric;
  k.clip = static_cast<float>(spec.clip);
  if (spec.granularity == Granularity::Group) {
    k.group = spec.group_size;
    k.scale_out = scale_out.data_ptr<float>();
    k.zero_out = spec.symmetric ? nullptr : zero_out.data_ptr<int32_t>();
    k.out_ld = scale_out.size(1);
    QUENCH_CHECK(i1 % spec.group_size == 0, "gptq_block: a block must start a group");
    k.first_group = i1 / spec.group_size;
  } else {
    k.scale = given.scale.data_ptr<float>();
    k.zero = spec.symmetric ? nullptr : given.zero.data_ptr<int32_t>();
    k.param_stride = spec.granularity == Granularity::Row ? 1 : 0;
  }
  k.loss = loss.data_ptr<double>();
  detail::check(kernels::gptq_block(k, detail::stream_for(W)), "gptq_block");
#else
  (void)Q, (void)Err, (void)U, (void)i1, (void)given, (void)scale_out, (void)zero_out, (void)loss;
#endif
}

}  // namespace quench::ops
