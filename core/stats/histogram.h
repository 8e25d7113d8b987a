#pragma once
// A fixed-size histogram whose range grows, for streaming data whose range is not known up front.
//
// Scheme: `bins` equal bins over [-limit, limit] (Symmetric) or [0, limit] (NonNegative). The
// first batch with a non-zero value sets limit = that batch's absmax. When a later batch exceeds
// the limit, the limit doubles (k times at once, the least k that covers the batch) and every
// 2^k neighbouring bins merge into one; because old edges are new edges this merge is exact,
// so the histogram always equals one built in a single pass over everything with the final
// limit. Memory is `bins` counters regardless of how much data passes.
//
// Symmetric histograms have an even number of bins with an edge at 0, so |x| folds exactly into
// bins/2 bins of the same width: percentiles of |x| are accurate to one bin width (2·limit/bins).
// Zeros fall in the bin [0, width) and are counted even before the limit is known.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "core/stats/workspace.h"

namespace quench {

class Histogram {
 public:
  enum class Range : uint8_t { Symmetric = 0, NonNegative = 1 };

  // bins: Symmetric needs a multiple of 2; at least 2 either way. 2048 by default.
  explicit Histogram(int64_t bins = 2048, Range range = Range::Symmetric);
  // Rebuilds a histogram from stored parts (deserialization); checks that they are consistent.
  static Histogram from_parts(Range range, double limit, std::vector<int64_t> counts);

  // Adds every element of t (any device, any real dtype). All values must be finite, and not
  // negative for a NonNegative histogram.
  void add(const at::Tensor& t);
  // The same when the caller already knows max |t| (saves a pass over the data) and vouches for
  // the sign. ws: scratch (slots kSlotDeviation, kSlotBinIndex); nullptr allocates.
  void add(const at::Tensor& t, double absmax, Workspace* ws = nullptr);

  // For binning elsewhere (the CUDA statistics kernel): widen the range to cover absmax as add()
  // would, then merge counts binned over the current range by bin = clamp(floor(fma(x, scale(),
  // offset())), 0, bins − 1) in float32, which is the formula add() computes. Needs limit() > 0.
  void grow(double absmax) {
    if (absmax > limit_) grow_to(absmax);
  }
  float scale() const { return static_cast<float>(static_cast<double>(bins()) / (hi() - lo())); }
  float offset() const { return range_ == Range::Symmetric ? static_cast<float>(bins() / 2) : 0.f; }
  void add_binned(const int64_t* counts);  // [bins]
  // n finite float values (not negative for NonNegative) whose max |v| is absmax, binned here by
  // the same formula: for short vectors on the CPU, where a loop beats a chain of tensor ops.
  void add_values(const float* v, int64_t n, double absmax);

  Range range() const { return range_; }
  int64_t bins() const { return static_cast<int64_t>(counts_.size()); }
  double limit() const { return limit_; }  // 0 until a non-zero value was seen
  double lo() const { return range_ == Range::Symmetric ? -limit_ : 0.0; }
  double hi() const { return limit_; }
  double bin_width() const { return (hi() - lo()) / static_cast<double>(bins()); }
  const std::vector<int64_t>& counts() const { return counts_; }  // [bins]
  std::vector<double> edges() const;                              // [bins + 1], lo() … hi()
  int64_t total() const { return total_; }

  // The p-th percentile (p in [0, 100]) of |x| for Symmetric, of x for NonNegative, linearly
  // interpolated inside the bin where the cumulative count reaches p% of the total; within one
  // bin width of the exact value. 0 for an empty histogram.
  double abs_percentile(double p) const;

 private:
  // Widens the range by doubling until it covers absmax, merging bins.
  void grow_to(double absmax);
  void merge_bins(int shift);  // every 2^shift neighbouring bins become one, around the centre

  Range range_;
  double limit_ = 0.0;
  int64_t total_ = 0;
  std::vector<int64_t> counts_;  // [bins]
};

}  // namespace quench
