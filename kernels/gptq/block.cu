#include "kernels/detail/device.cuh"
#include "kernels/gptq.h"
#include "kernels/quant_math.h"

namespace quench::kernels {

namespace {

namespace qm = qmath;

// One warp per 32 rows: the block's columns sit in shared memory column-major with a padded
// stride, so both the coalesced row loads and each thread's walk along its row are conflict-free.
constexpr int kRows = 32;
constexpr int kStride = kRows + 1;

// Every arithmetic step is the rounding the torch column loop performs (sub, div by U_ii, a k=1
// product and a sub), so the kernel reproduces it instead of approximating it; no FMA contraction.
__global__ void gptq_block_kernel(GptqBlockParams p) {
  __shared__ float ws[kGptqMaxBlock * kStride];  // the row's working values, then its q
  __shared__ float es[kGptqMaxBlock * kStride];  // the errors
  __shared__ float us[kGptqMaxBlock];            // row i of U's block
  const int t = threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t n = p.count;
  const int64_t nrows = p.rows - r0 < kRows ? p.rows - r0 : kRows;
  for (int64_t idx = t; idx < kRows * n; idx += kRows) {
    const int64_t rr = idx / n, cc = idx % n;
    ws[cc * kStride + rr] = rr < nrows ? p.w[(r0 + rr) * p.ld + cc] : 0.f;
  }
  __syncwarp();
  const int64_t r = r0 + t;
  const bool live = t < nrows;
  const float lo = qm::qmin(p.bits, p.symmetric), hi = qm::qmax(p.bits, p.symmetric);
  float s = 1.f, z = 0.f;
  if (p.group == 0 && live) {
    s = p.scale[r * p.param_stride];
    z = p.zero ? static_cast<float>(p.zero[r * p.param_stride]) : 0.f;
  }
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = t; j < n; j += kRows) us[j] = p.u[i * p.ldu + j];
    __syncwarp();
    if (p.group > 0 && i % p.group == 0) {
      const int64_t end = i + p.group < n ? i + p.group : n;
      if (p.symmetric) {
        float amax = 0.f;
        for (int64_t j = i; j < end; ++j) amax = fmaxf(amax, fabsf(ws[j * kStride + t]));
        s = qm::scale_symmetric(amax, p.bits, p.clip);
        z = 0.f;
      } else {
        float mn = ws[i * kStride + t], mx = mn;
        for (int64_t j = i + 1; j < end; ++j) {
          const float v = ws[j * kStride + t];
          mn = fminf(mn, v);
          mx = fmaxf(mx, v);
        }
        qm::scale_zero_asymmetric(mn, mx, p.bits, p.clip, &s, &z);
      }
      if (live) {
        const int64_t k = r * p.out_ld + p.first_group + i / p.group;
        p.scale_out[k] = s;
        if (p.zero_out) p.zero_out[k] = static_cast<int32_t>(z);
      }
    }
    const float x = ws[i * kStride + t];
    const float qv = qm::dequantize(qm::quantize(x, s, z, lo, hi), s, z);
    const float e = __fdiv_rn(__fsub_rn(x, qv), us[i]);
    loss += static_cast<double>(__fmul_rn(e, e));
    for (int64_t j = i + 1; j < n; ++j) ws[j * kStride + t] = __fsub_rn(ws[j * kStride + t], __fmul_rn(e, us[j]));
    ws[i * kStride + t] = qv;
    es[i * kStride + t] = e;
    __syncwarp();
  }
  for (int64_t idx = t; idx < kRows * n; idx += kRows) {
    const int64_t rr = idx / n, cc = idx % n;
    if (rr < nrows) {
      p.q[(r0 + rr) * p.ld + cc] = ws[cc * kStride + rr];
      p.err[(r0 + rr) * n + cc] = es[cc * kStride + rr];
    }
  }
  if (p.loss && live) atomicAdd(p.loss, loss);
}

}  // namespace

Status gptq_block(const GptqBlockParams& p, cudaStream_t stream) {
  if (p.bits < 2 || p.bits > 8) return invalid("gptq_block: bits must be in [2, 8]");
  if (p.rows < 0 || p.count < 0 || p.count > kGptqMaxBlock) return invalid("gptq_block: count must be in [0, 128]");
  if (p.ld < p.count || p.ldu < p.count) return invalid("gptq_block: leading dimensions smaller than the block");
  if (p.rows == 0 || p.count == 0) return Status{};
  if (!p.w || !p.q || !p.err || !p.u) return invalid("gptq_block: null pointer");
  if (p.group < 0 || (p.group == 0 && !p.scale) || (p.group > 0 && !p.scale_out) ||
      (p.group > 0 && !p.symmetric && !p.zero_out) || (p.group == 0 && !p.symmetric && !p.zero))
    return invalid("gptq_block: parameters missing for the requested mode");
  if (!(p.clip > 0.f)) return invalid("gptq_block: clip must be > 0");
  const unsigned blocks = static_cast<unsigned>((p.rows + kRows - 1) / kRows);
  gptq_block_kernel<<<blocks, kRows, 0, stream>>>(p);
  return detail::launch_status();
}

}  // namespace quench::kernels
