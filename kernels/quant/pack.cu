// Packing b-bit integers into int32 words along the input dimension (compressed-tensors
// pack-quantized): one thread per word, so each word is assembled in a register and written once.
#include <algorithm>

#include "kernels/detail/device.cuh"
#include "kernels/fake_quant.h"

namespace quench::kernels {

namespace {

__global__ void __launch_bounds__(256) pack_kernel(const uint8_t* __restrict__ q, bool is_signed, int32_t* __restrict__ packed,
                                                   int64_t rows, int64_t cols, int64_t words, int bits) {
  const int per = 32 / bits;
  const uint32_t mask = (1u << bits) - 1u, offset = is_signed ? 1u << (bits - 1) : 0u;
  const int64_t total = rows * words;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / words, w = i - r * words;
    const int64_t c0 = w * per;
    const uint8_t* row = q + r * cols;
    uint32_t word = 0;
    for (int k = 0; k < per && c0 + k < cols; ++k) {
      const uint32_t v = is_signed ? static_cast<uint32_t>(static_cast<int32_t>(static_cast<int8_t>(row[c0 + k])) + static_cast<int32_t>(offset))
                                   : static_cast<uint32_t>(row[c0 + k]);
      word |= (v & mask) << (k * bits);
    }
    packed[i] = static_cast<int32_t>(word);
  }
}

__global__ void __launch_bounds__(256) unpack_kernel(const int32_t* __restrict__ packed, bool is_signed, uint8_t* __restrict__ q,
                                                     int64_t rows, int64_t cols, int64_t words, int bits) {
  const int per = 32 / bits;
  const uint32_t mask = (1u << bits) - 1u;
  const int32_t offset = is_signed ? 1 << (bits - 1) : 0;
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    const int64_t w = c / per;
    const int k = static_cast<int>(c - w * per);
    const uint32_t word = static_cast<uint32_t>(packed[r * words + w]);
    const int32_t v = static_cast<int32_t>((word >> (k * bits)) & mask) - offset;
    q[i] = static_cast<uint8_t>(v);
  }
}

int blocks_for(int64_t n) { return static_cast<int>(std::min<int64_t>(std::max<int64_t>(detail::ceil_div(n, 256), 1), 32LL * detail::sm_count())); }

}  // namespace

Status pack_int32(const PackParams& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("pack_int32: bits must be in [2, 8]");
  if (p.q_dtype != DType::I8 && p.q_dtype != DType::U8) return invalid("pack_int32: q must be int8 or uint8");
  if (p.rows < 0 || p.cols < 0) return invalid("pack_int32: negative size");
  const int64_t words = detail::ceil_div(p.cols, 32 / p.bits);
  if (p.rows * words == 0) return Status{};
  if (!p.q || !p.packed) return invalid("pack_int32: null pointer");
  pack_kernel<<<blocks_for(p.rows * words), 256, 0, stream>>>(static_cast<const uint8_t*>(p.q), p.q_dtype == DType::I8, p.packed,
                                                               p.rows, p.cols, words, p.bits);
  QK_CHECK_LAUNCH();
  return Status{};
}

Status unpack_int32(const UnpackParams& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("unpack_int32: bits must be in [2, 8]");
  if (p.q_dtype != DType::I8 && p.q_dtype != DType::U8) return invalid("unpack_int32: q must be int8 or uint8");
  if (p.rows < 0 || p.cols < 0) return invalid("unpack_int32: negative size");
  if (p.rows * p.cols == 0) return Status{};
  if (!p.q || !p.packed) return invalid("unpack_int32: null pointer");
  const int64_t words = detail::ceil_div(p.cols, 32 / p.bits);
  unpack_kernel<<<blocks_for(p.rows * p.cols), 256, 0, stream>>>(p.packed, p.q_dtype == DType::I8, static_cast<uint8_t*>(p.q), p.rows,
                                                                 p.cols, words, p.bits);
  QK_CHECK_LAUNCH();
  return Status{};
}

}  // namespace quench::kernels
