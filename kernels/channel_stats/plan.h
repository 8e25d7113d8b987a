#pragma once
// How a channel-statistics launch is cut up; shared by the workspace query and the launch so the
// two always agree.
#include <cstddef>
#include <cstdint>

#include "kernels/channel_stats.h"

namespace quench::kernels::channel_stats_detail {

constexpr int kThreads = 256;
constexpr int kStats = 5;       // absmax, min, max, sum, sumsq partials per row slice
constexpr int kStatsHigher = 7;  // and the sums of cubes and fourth powers
// Shared-memory histogram budget: replicas cut atomic contention on the busiest bins (values of
// an activation pile up near zero), and 32 KB still leaves room for several blocks per SM.
constexpr int kHistSmemBytes = 32 * 1024;
constexpr int kMaxHistReplicas = 8;

struct Plan {
  int vec = 1;            // channels per thread access (16 bytes when the layout allows)
  bool higher = false;    // shifted sums, third/fourth powers (kStatsHigher partials), row maxima
  int stats = kStats;     // partials per channel and slice
  int tx = 1, ty = 1;     // threads along channel vectors, threads along rows
  int64_t grid_x = 1;     // column tiles
  int64_t slices = 1;     // row slices (grid.y)
  int hist_replicas = 0;  // 0: histogram in global memory atomics (too many bins for shared)
  size_t smem_bytes = 0;
  size_t partial_bytes = 0, hist_bytes = 0;  // workspace layout
};

Plan make_plan(const ChannelStatsParams& p, int element_bytes);

}  // namespace quench::kernels::channel_stats_detail
