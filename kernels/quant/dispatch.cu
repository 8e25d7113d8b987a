#include "kernels/detail/device.cuh"
#include "kernels/fake_quant.h"

namespace quench::kernels {

namespace quant_detail {
template <typename T>
Status launch_apply(const QuantApplyParams& p, cudaStream_t stream);
template <typename T>
Status launch_dynamic(const QuantDynamicParams& p, cudaStream_t stream);
}  // namespace quant_detail

namespace {
bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

template <typename P, typename F>
Status by_dtype(DType t, const P& p, cudaStream_t s, F&& f) {
  switch (t) {
    case DType::F32: return f(float{}, p, s);
    case DType::F16: return f(__half{}, p, s);
    case DType::BF16: return f(__nv_bfloat16{}, p, s);
    default: return unsupported("quant: floating-point side must be float32, float16 or bfloat16");
  }
}
}  // namespace

Status quant_apply(const QuantApplyParams& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("quant_apply: bits must be in [2, 8]");
  if (p.rows < 0 || p.cols < 0) return invalid("quant_apply: negative size");
  if (p.group < 1 || p.scale_row_stride < 0) return invalid("quant_apply: group must be >= 1 and scale_row_stride >= 0");
  if (p.rows * p.cols > 0 && (!p.in || !p.out || !p.scale)) return invalid("quant_apply: null pointer");
  const DType q_type = p.zero ? DType::U8 : DType::I8;
  DType ft = p.in_dtype;
  switch (p.op) {
    case QuantOp::Fake:
      if (p.out_dtype != p.in_dtype) return invalid("quant_apply: Fake writes the input's dtype");
      break;
    case QuantOp::Quantize:
      if (p.out_dtype != q_type) return invalid("quant_apply: Quantize writes I8 (symmetric) or U8 (with zero points)");
      break;
    case QuantOp::Dequantize:
      if (p.in_dtype != q_type) return invalid("quant_apply: Dequantize reads I8 (symmetric) or U8 (with zero points)");
      ft = p.out_dtype;
      break;
    default: return invalid("quant_apply: op must be Fake, Quantize or Dequantize");
  }
  if (!is_float(ft)) return unsupported("quant_apply: floating-point side must be float32, float16 or bfloat16");
  return by_dtype(ft, p, stream, [](auto tag, const QuantApplyParams& q, cudaStream_t s) {
    return quant_detail::launch_apply<decltype(tag)>(q, s);
  });
}

Status quant_dynamic(const QuantDynamicParams& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("quant_dynamic: bits must be in [2, 8]");
  if (p.rows < 0 || p.cols < 0) return invalid("quant_dynamic: negative size");
  if (p.group < 1) return invalid("quant_dynamic: group must be >= 1");
  if (!(p.clip > 0.f)) return invalid("quant_dynamic: clip must be > 0");
  if (p.rows * p.cols > 0 && !p.in) return invalid("quant_dynamic: null input");
  switch (p.op) {
    case QuantOp::Fake:
      if (!p.out || p.out_dtype != p.in_dtype) return invalid("quant_dynamic: Fake writes the input's dtype to out");
      break;
    case QuantOp::Quantize:
      if (!p.out || p.out_dtype != (p.symmetric ? DType::I8 : DType::U8))
        return invalid("quant_dynamic: Quantize writes I8 (symmetric) or U8 (asymmetric) to out");
      break;
    case QuantOp::ParamsOnly:
      if (!p.scale_out || (!p.symmetric && !p.zero_out)) return invalid("quant_dynamic: ParamsOnly needs scale_out (and zero_out)");
      break;
    default: return invalid("quant_dynamic: op must be Fake, Quantize or ParamsOnly");
  }
  return by_dtype(p.in_dtype, p, stream, [](auto tag, const QuantDynamicParams& q, cudaStream_t s) {
    return quant_detail::launch_dynamic<decltype(tag)>(q, s);
  });
}

}  // namespace quench::kernels
