// One instantiation per file so the kernel build parallelizes.
#include "kernels/channel_stats/impl.cuh"

namespace quench::kernels::channel_stats_detail {
template Status launch_channel_stats<float>(const ChannelStatsParams&, cudaStream_t);
template int resident_blocks<float>(const Plan&, int64_t);
}
