#include "kernels/detail/device.cuh"
#include "kernels/sparsegpt.h"

namespace quench::kernels {

namespace {

// The layout of kernels/gptq/block.cu: one warp per 32 rows, the block's columns in shared memory
// column-major with a padded stride (coalesced loads, conflict-free walks along a row).
constexpr int kRows = 32;
constexpr int kStride = kRows + 1;

__device__ float nm_score(float x, float d) { return __fdiv_rn(__fmul_rn(x, x), __fmul_rn(d, d)); }

// a before b in torch's descending sort: NaN first (NaNs equal among themselves), then by value.
__device__ bool sorts_before(float a, float b) { return isnan(a) ? !isnan(b) : a > b; }
__device__ bool sorts_equal(float a, float b) { return isnan(a) ? isnan(b) : a == b; }

// The roundings are those of the torch column loop (w·keep, a sub, a div by U_ii, a k = 1 product
// and a sub); no FMA contraction.
__global__ void sparsegpt_block_kernel(SparseGptBlockParams p) {
  __shared__ float ws[kSparseGptMaxBlock * kStride];  // the row's working values, then its q
  __shared__ float es[kSparseGptMaxBlock * kStride];  // the errors
  __shared__ uint8_t ks[kSparseGptMaxBlock * kStride];
  __shared__ float us[kSparseGptMaxBlock];  // row i of U's block
  __shared__ float ds[kSparseGptMaxBlock];  // U's diagonal over the block
  const int t = threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const int64_t n = p.count;
  const int64_t nrows = p.rows - r0 < kRows ? p.rows - r0 : kRows;
  for (int64_t idx = t; idx < kRows * n; idx += kRows) {
    const int64_t rr = idx / n, cc = idx % n;
    const bool in = rr < nrows;
    ws[cc * kStride + rr] = in ? p.w[(r0 + rr) * p.ld + cc] : 0.f;
    ks[cc * kStride + rr] = in && p.m == 0 ? p.keep[(r0 + rr) * p.ld_keep + cc] : 1;
  }
  for (int64_t j = t; j < n; j += kRows) ds[j] = p.u[j * p.ldu + j];
  __syncwarp();
  const bool live = t < nrows;
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = t; j < n; j += kRows) us[j] = p.u[i * p.ldu + j];
    __syncwarp();
    if (p.m > 0 && i % p.m == 0) {
      // Rank of column j among the group's m scores in a stable descending order; keep the first n.
      float sc[kSparseGptMaxM];
      for (int j = 0; j < p.m; ++j) sc[j] = nm_score(ws[(i + j) * kStride + t], ds[i + j]);
      for (int j = 0; j < p.m; ++j) {
        int rank = 0;
        for (int k = 0; k < p.m; ++k) rank += sorts_before(sc[k], sc[j]) || (k < j && sorts_equal(sc[k], sc[j]));
        ks[(i + j) * kStride + t] = rank < p.n;
      }
    }
    const float x = ws[i * kStride + t];
    // w · keep, as the loop computes it: a pruned negative weight is −0, as there.
    const float qv = __fmul_rn(x, ks[i * kStride + t] ? 1.f : 0.f);
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
      if (p.m > 0) p.keep[(r0 + rr) * p.ld_keep + cc] = ks[cc * kStride + rr];
    }
  }
  if (p.loss && live) atomicAdd(p.loss, loss);
}

}  // namespace

Status sparsegpt_block(const SparseGptBlockParams& p, cudaStream_t stream) {
  if (p.rows < 0 || p.count < 0 || p.count > kSparseGptMaxBlock) return invalid("sparsegpt_block: count must be in [0, 128]");
  if (p.ld < p.count || p.ldu < p.count || p.ld_keep < p.count) return invalid("sparsegpt_block: leading dimensions smaller than the block");
  if (p.m < 0 || p.m > kSparseGptMaxM || (p.m > 0 && (p.n < 1 || p.n > p.m || p.count % p.m != 0)))
    return invalid("sparsegpt_block: N:M needs 1 <= n <= m <= 64 and a block of whole groups");
  if (p.rows == 0 || p.count == 0) return Status{};
  if (!p.w || !p.q || !p.err || !p.u || !p.keep) return invalid("sparsegpt_block: null pointer");
  const unsigned blocks = static_cast<unsigned>((p.rows + kRows - 1) / kRows);
  sparsegpt_block_kernel<<<blocks, kRows, 0, stream>>>(p);
  return detail::launch_status();
}

}  // namespace quench::kernels
