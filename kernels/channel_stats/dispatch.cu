#include <algorithm>

#include "kernels/channel_stats/plan.h"
#include "kernels/detail/device.cuh"

namespace quench::kernels {

namespace channel_stats_detail {

template <typename T>
Status launch_channel_stats(const ChannelStatsParams& p, cudaStream_t stream);
template <typename T>
int resident_blocks(const Plan& plan, int64_t bins);

Plan make_plan(const ChannelStatsParams& p, int element_bytes) {
  Plan plan;
  const int v16 = 16 / element_bytes;
  plan.higher = p.shift || p.sum3 || p.row_absmax;
  plan.stats = plan.higher ? kStatsHigher : kStats;
  if (p.cols % v16 == 0 && p.row_stride % v16 == 0 && detail::aligned16(p.x)) plan.vec = v16;
  const int64_t nvec = std::max<int64_t>(1, detail::ceil_div(p.cols, plan.vec));
  // At most one warp across the channels (512 contiguous bytes per row, fully coalesced) and the
  // other warps on other rows: narrow column tiles mean more tiles and so fewer row slices, which
  // keeps the partials (slices × cols × 20 bytes) a small fraction of the input.
  int tx = 1;
  while (tx < 32 && tx < nvec) tx *= 2;
  plan.tx = tx;
  plan.ty = kThreads / tx;
  plan.grid_x = detail::ceil_div(nvec, tx);
  if (p.bins > 0) {
    const int64_t fit = kHistSmemBytes / (p.bins * 4);
    plan.hist_replicas = static_cast<int>(std::min<int64_t>(fit, kMaxHistReplicas));
  }
  const size_t hist_smem = (static_cast<size_t>(plan.hist_replicas) * p.bins * 4 + 15) / 16 * 16;
  plan.smem_bytes = hist_smem + static_cast<size_t>(kThreads) * plan.vec * sizeof(float);
  // Two waves of the blocks an SM holds at once (the kernel's occupancy: 2 at ~122 registers, 3
  // for the 80-register packed histogram kernel), each slice long enough that the float partials
  // in registers are the only per-row cost. A fixed 4 per SM left 1.33 waves at 3 resident.
  int resident = 2;
  switch (p.dtype) {
    case DType::F32: resident = resident_blocks<float>(plan, p.bins); break;
    case DType::F16: resident = resident_blocks<__half>(plan, p.bins); break;
    case DType::BF16: resident = resident_blocks<__nv_bfloat16>(plan, p.bins); break;
    default: break;
  }
  const int64_t target = 2LL * resident * detail::sm_count();
  const int64_t max_slices = std::max<int64_t>(1, detail::ceil_div(p.rows, plan.ty));
  // Rounded down: grid_x·slices must not spill a few blocks into an extra, nearly empty wave
  // (bf16 [32768, 8192] with 17 slices gave 544 blocks for 528 slots: 71% of copy bandwidth).
  plan.slices = std::clamp<int64_t>(target / plan.grid_x, 1, std::min<int64_t>(max_slices, 65535));
  plan.partial_bytes = (static_cast<size_t>(plan.slices) * plan.stats * std::max<int64_t>(p.cols, 1) * sizeof(float) + 255) / 256 * 256;
  plan.hist_bytes = static_cast<size_t>(p.bins) * sizeof(unsigned long long);
  return plan;
}

}  // namespace channel_stats_detail

size_t channel_stats_workspace_bytes(const ChannelStatsParams& p) {
  const int esz = p.dtype == DType::F32 ? 4 : 2;
  const auto plan = channel_stats_detail::make_plan(p, esz);
  return plan.partial_bytes + plan.hist_bytes;
}

Status channel_stats(const ChannelStatsParams& p, cudaStream_t stream) {
  if (!p.x && p.rows * p.cols > 0) return invalid("channel_stats: x is null");
  if (p.rows < 0 || p.cols < 0) return invalid("channel_stats: negative size");
  if (p.row_stride < p.cols) return invalid("channel_stats: row_stride < cols");
  if (!p.absmax || !p.min || !p.max || !p.sum || !p.sumsq) return invalid("channel_stats: an output pointer is null");
  if (p.bins < 0 || p.bins > (1LL << 24)) return invalid("channel_stats: bins must be in [0, 2^24]");
  if (!p.sum3 != !p.sum4) return invalid("channel_stats: sum3 and sum4 go together");
  if (p.bins > 0 && (!p.histogram || !(p.hist_scale > 0.f))) return invalid("channel_stats: histogram needs an output and a positive scale");
  if (!p.workspace || !detail::aligned16(p.workspace)) return invalid("channel_stats: workspace missing or not 16-byte aligned");
  switch (p.dtype) {
    case DType::F32: return channel_stats_detail::launch_channel_stats<float>(p, stream);
    case DType::F16: return channel_stats_detail::launch_channel_stats<__half>(p, stream);
    case DType::BF16: return channel_stats_detail::launch_channel_stats<__nv_bfloat16>(p, stream);
    default: return unsupported("channel_stats: dtype must be float32, float16 or bfloat16");
  }
}

}  // namespace quench::kernels
