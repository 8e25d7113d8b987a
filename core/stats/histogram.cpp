#include "core/stats/histogram.h"

#include <algorithm>
#include <cmath>

#include "core/util/error.h"

namespace quench {

namespace {
// histc counts in the input's dtype; float32 holds integers exactly only up to 2^24, so larger
// tensors are counted in chunks of at most that many elements.
constexpr int64_t kChunk = int64_t{1} << 24;
}  // namespace

Histogram::Histogram(int64_t bins, Range range) : range_(range) {
  QUENCH_CHECK(bins >= 2, "histogram: need at least 2 bins, got ", bins);
  QUENCH_CHECK(range != Range::Symmetric || bins % 2 == 0, "histogram: a symmetric histogram needs an even number of bins, got ",
               bins);
  counts_.assign(static_cast<size_t>(bins), 0);
}

Histogram Histogram::from_parts(Range range, double limit, std::vector<int64_t> counts) {
  Histogram h(static_cast<int64_t>(counts.size()), range);
  QUENCH_CHECK(std::isfinite(limit) && limit >= 0, "histogram: invalid limit ", limit);
  int64_t total = 0;
  for (int64_t c : counts) {
    QUENCH_CHECK(c >= 0, "histogram: negative count ", c);
    total += c;
  }
  h.limit_ = limit;
  h.total_ = total;
  h.counts_ = std::move(counts);
  return h;
}

std::vector<double> Histogram::edges() const {
  std::vector<double> e(counts_.size() + 1);
  const double w = bin_width();
  for (size_t i = 0; i < e.size(); ++i) e[i] = lo() + w * static_cast<double>(i);
  e.back() = hi();
  return e;
}

void Histogram::add(const at::Tensor& t) {
  if (!t.defined() || t.numel() == 0) return;
  add(t, t.abs().max().item<double>());
}

void Histogram::add(const at::Tensor& t, double absmax) {
  if (!t.defined() || t.numel() == 0) return;
  QUENCH_CHECK(std::isfinite(absmax), "histogram: values must be finite (max |x| is ", absmax, ")");
  const int64_t B = bins();
  const int64_t n = t.numel();
  if (absmax > limit_) grow_to(absmax);
  if (limit_ == 0) {  // only zeros so far: they belong to the bin [0, width) whatever the width
    counts_[range_ == Range::Symmetric ? B / 2 : 0] += n;
    total_ += n;
    return;
  }
  at::Tensor flat = t.reshape({-1});
  if (!at::isFloatingType(flat.scalar_type()) || flat.scalar_type() == at::kHalf || flat.scalar_type() == at::kBFloat16)
    flat = flat.to(at::kFloat);
  at::Tensor sum;  // F64 [bins] on the tensor's device
  for (int64_t start = 0; start < n; start += kChunk) {
    auto c = at::histc(flat.narrow(0, start, std::min(kChunk, n - start)), B, lo(), hi()).to(at::kDouble);
    sum = sum.defined() ? sum + c : c;
  }
  auto cpu = sum.to(at::kCPU).contiguous();
  const double* p = cpu.data_ptr<double>();
  int64_t added = 0;
  for (int64_t i = 0; i < B; ++i) {
    const auto c = static_cast<int64_t>(std::llround(p[i]));
    counts_[i] += c;
    added += c;
  }
  total_ += added;
  QUENCH_CHECK(added == n, "histogram: ", n - added, " of ", n, " values fell outside [", lo(), ", ", hi(),
               "] (negative values in a non-negative histogram?)");
}

void Histogram::grow_to(double absmax) {
  if (limit_ == 0) {
    limit_ = absmax;
    return;
  }
  int shift = 0;
  while (limit_ < absmax) {
    limit_ *= 2;
    ++shift;
  }
  merge_bins(shift);
}

void Histogram::merge_bins(int shift) {
  if (shift == 0) return;
  shift = std::min(shift, 62);  // beyond that every count is already in the centre bins
  const int64_t B = bins();
  std::vector<int64_t> merged(counts_.size(), 0);
  if (range_ == Range::NonNegative) {
    for (int64_t i = 0; i < B; ++i) merged[i >> shift] += counts_[i];
  } else {
    // Bins pair up outward from the edge at 0, so that edge stays an edge.
    const int64_t c = B / 2;
    for (int64_t i = c; i < B; ++i) merged[c + ((i - c) >> shift)] += counts_[i];
    for (int64_t i = 0; i < c; ++i) merged[c - 1 - ((c - 1 - i) >> shift)] += counts_[i];
  }
  counts_ = std::move(merged);
}

double Histogram::abs_percentile(double p) const {
  QUENCH_CHECK(p >= 0 && p <= 100, "histogram: percentile must be in [0, 100], got ", p);
  if (total_ == 0) return 0.0;
  const int64_t B = bins();
  const bool sym = range_ == Range::Symmetric;
  const int64_t nb = sym ? B / 2 : B;  // bins of |x|
  const double w = limit_ / static_cast<double>(nb);
  auto count = [&](int64_t i) { return sym ? counts_[B / 2 + i] + counts_[B / 2 - 1 - i] : counts_[i]; };
  // The same rank as the exact quantile with linear interpolation: 0-based (n − 1)·p/100; we look
  // for the order statistic just below it and place it inside its bin by its rank there.
  const double rank = std::floor(static_cast<double>(total_ - 1) * p / 100.0) + 1.0;  // 1-based
  double before = 0;
  for (int64_t i = 0; i < nb; ++i) {
    const auto c = static_cast<double>(count(i));
    if (c > 0 && before + c >= rank) return w * (static_cast<double>(i) + (rank - before - 0.5) / c);
    before += c;
  }
  return limit_;
}

}  // namespace quench
