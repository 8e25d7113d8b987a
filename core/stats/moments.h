#pragma once
// Central moments that merge exactly, so statistics over data seen in pieces equal the ones over
// all of it at once: Chan/Welford for the mean and M2, Pébay (2008, "Formulas for robust,
// one-pass parallel computation of covariances and arbitrary-order statistical moments") for M3
// and M4. Everything is double: the pieces come from float32 reductions on the device, and the
// merge must not lose what they kept.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "core/stats/workspace.h"

namespace quench {

// Moments of a set of n values: M_k = Σ (x − mean)^k.
struct Moments {
  double n = 0, mean = 0, m2 = 0, m3 = 0, m4 = 0;

  void merge(const Moments& o);
  double variance() const { return n > 0 ? m2 / n : 0.0; }  // population (÷ n)
  double std() const;
  double skewness() const;  // 0 when the variance is 0
  double kurtosis() const;  // Pearson's (a normal distribution has 3), not excess; 0 when the variance is 0
};

// Per-channel moments of a 2-D tensor reduced over one axis, computed on the tensor's device
// and returned as CPU float64 tensors (one entry per kept index).
struct ChannelMoments {
  int64_t n = 0;          // values per channel (the reduced axis' length)
  at::Tensor mean;        // F64 [channels]
  at::Tensor m2, m3, m4;  // F64 [channels]; m3/m4 undefined unless asked for
  at::Tensor min, max;    // F64 [channels]
};

// x: [rows, cols] floating. reduce_dim 0 gives one entry per column, 1 one per row.
// higher: also M3 and M4 (needed to pool the channels into a whole-tensor kurtosis).
// ws: scratch for the deviations (slots kSlotDeviation, kSlotPower); nullptr allocates afresh.
ChannelMoments channel_moments(const at::Tensor& x, int64_t reduce_dim, bool higher, Workspace* ws = nullptr);

// The moments of all the values together, from their per-channel moments (needs m3/m4).
Moments pool_channels(const ChannelMoments& c);

// A tensor's values as a std::vector<double> (copied to the CPU): how per-channel results leave ATen.
std::vector<double> to_doubles(const at::Tensor& t);

// Merges the per-channel (n, mean, M2) of a new batch into running per-channel ones (all F64 CPU
// [channels]); n is shared by every channel. Used for the running per-channel mean and std.
void merge_channel_m2(double& n, at::Tensor& mean, at::Tensor& m2, double bn, const at::Tensor& bmean,
                      const at::Tensor& bm2);

}  // namespace quench
