// pack_int32 / unpack_int32 (declared in fake_quant.h): the compressed-tensors pack-quantized
// layout, kept in this one file so every exporter and loader packs the same way.
#include <ATen/Parallel.h>

#include "core/ops/device.h"
#include "core/ops/fake_quant.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/fake_quant.h"
#endif

namespace quench::ops {

namespace {
void check_bits(int bits, const char* op) { QUENCH_CHECK(bits >= 2 && bits <= 8, op, ": bits must be in [2, 8], got ", bits); }
}  // namespace

at::Tensor pack_int32(const at::Tensor& q_in, int bits) {
  check_bits(bits, "pack_int32");
  QUENCH_CHECK(q_in.defined() && q_in.dim() == 2, "pack_int32: q must be 2-D [rows, cols], got ",
               q_in.defined() ? q_in.sizes() : at::IntArrayRef{});
  QUENCH_CHECK(q_in.scalar_type() == at::kChar || q_in.scalar_type() == at::kByte, "pack_int32: q must be int8 or uint8, got ",
               detail::dtype_name(q_in.scalar_type()));
  const bool is_signed = q_in.scalar_type() == at::kChar;
  const int64_t R = q_in.size(0), C = q_in.size(1), per = 32 / bits, W = (C + per - 1) / per;
  if (!q_in.device().is_cpu() && !detail::on_cuda(q_in)) return pack_int32(q_in.cpu(), bits).to(q_in.device());
  const at::Tensor q = q_in.contiguous();
  at::Tensor out = at::empty({R, W}, q.options().dtype(at::kInt));
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(q)) {
    const c10::DeviceGuard guard(q.device());
    kernels::PackParams p;
    p.q = q.data_ptr();
    p.q_dtype = is_signed ? kernels::DType::I8 : kernels::DType::U8;
    p.packed = out.data_ptr<int32_t>();
    p.rows = R;
    p.cols = C;
    p.bits = bits;
    detail::check(kernels::pack_int32(p, detail::stream_for(q)), "pack_int32");
    return out;
  }
#endif
  const uint32_t mask = (1u << bits) - 1u;
  const int32_t offset = is_signed ? 1 << (bits - 1) : 0;
  const uint8_t* pq = static_cast<const uint8_t*>(q.data_ptr());
  int32_t* po = out.data_ptr<int32_t>();
  at::parallel_for(0, R, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t w = 0; w < W; ++w) {
        uint32_t word = 0;
        for (int64_t k = 0; k < per && w * per + k < C; ++k) {
          const uint8_t raw = pq[r * C + w * per + k];
          const int32_t v = is_signed ? static_cast<int32_t>(static_cast<int8_t>(raw)) + offset : static_cast<int32_t>(raw);
          word |= (static_cast<uint32_t>(v) & mask) << (k * bits);
        }
        po[r * W + w] = static_cast<int32_t>(word);
      }
  });
  return out;
}

at::Tensor unpack_int32(const at::Tensor& packed_in, int bits, int64_t cols, bool is_signed) {
  check_bits(bits, "unpack_int32");
  QUENCH_CHECK(packed_in.defined() && packed_in.dim() == 2 && packed_in.scalar_type() == at::kInt,
               "unpack_int32: packed must be a 2-D int32 tensor");
  const int64_t R = packed_in.size(0), per = 32 / bits, W = packed_in.size(1);
  QUENCH_CHECK(cols >= 0 && (cols + per - 1) / per == W, "unpack_int32: ", W, " words per row hold ", (W - 1) * per + 1, "..", W * per,
               " values of ", bits, " bits, not ", cols);
  if (!packed_in.device().is_cpu() && !detail::on_cuda(packed_in))
    return unpack_int32(packed_in.cpu(), bits, cols, is_signed).to(packed_in.device());
  const at::Tensor packed = packed_in.contiguous();
  at::Tensor out = at::empty({R, cols}, packed.options().dtype(is_signed ? at::kChar : at::kByte));
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(packed)) {
    const c10::DeviceGuard guard(packed.device());
    kernels::UnpackParams p;
    p.packed = packed.data_ptr<int32_t>();
    p.q = out.data_ptr();
    p.q_dtype = is_signed ? kernels::DType::I8 : kernels::DType::U8;
    p.rows = R;
    p.cols = cols;
    p.bits = bits;
    detail::check(kernels::unpack_int32(p, detail::stream_for(packed)), "unpack_int32");
    return out;
  }
#endif
  const uint32_t mask = (1u << bits) - 1u;
  const int32_t offset = is_signed ? 1 << (bits - 1) : 0;
  const int32_t* pp = packed.data_ptr<int32_t>();
  uint8_t* po = static_cast<uint8_t*>(out.data_ptr());
  at::parallel_for(0, R, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const uint32_t word = static_cast<uint32_t>(pp[r * W + c / per]);
        const int32_t v = static_cast<int32_t>((word >> ((c % per) * bits)) & mask) - offset;
        po[r * cols + c] = static_cast<uint8_t>(v);
      }
  });
  return out;
}

}  // namespace quench::ops
