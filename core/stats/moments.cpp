#include "core/stats/moments.h"

#include <cmath>

#include "core/util/error.h"

namespace quench {

void Moments::merge(const Moments& o) {
  if (o.n == 0) return;
  if (n == 0) {
    *this = o;
    return;
  }
  const double na = n, nb = o.n, nn = na + nb;
  const double d = o.mean - mean, d2 = d * d;
  const double m4n = m4 + o.m4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (nn * nn * nn) +
                     6.0 * d2 * (na * na * o.m2 + nb * nb * m2) / (nn * nn) + 4.0 * d * (na * o.m3 - nb * m3) / nn;
  const double m3n = m3 + o.m3 + d2 * d * na * nb * (na - nb) / (nn * nn) + 3.0 * d * (na * o.m2 - nb * m2) / nn;
  const double m2n = m2 + o.m2 + d2 * na * nb / nn;
  mean += d * nb / nn;
  n = nn;
  m2 = m2n;
  m3 = m3n;
  m4 = m4n;
}

double Moments::std() const { return std::sqrt(variance()); }

double Moments::skewness() const { return m2 > 0 ? std::sqrt(n) * m3 / std::pow(m2, 1.5) : 0.0; }

double Moments::kurtosis() const { return m2 > 0 ? n * m4 / (m2 * m2) : 0.0; }

ChannelMoments channel_moments(const at::Tensor& x, int64_t reduce_dim, bool higher, Workspace* ws) {
  QUENCH_CHECK(x.dim() == 2 && (reduce_dim == 0 || reduce_dim == 1), "channel_moments: need a 2-D tensor and axis 0 or 1, got shape ",
               x.sizes(), " axis ", reduce_dim);
  ChannelMoments out;
  out.n = x.size(reduce_dim);
  QUENCH_CHECK(out.n > 0, "channel_moments: empty axis in shape ", x.sizes());
  // Central moments around each channel's own float32 mean: the deviations are small numbers, so
  // the float32 sums keep ~7 digits even for channels far from 0; the merge then goes double.
  // Four elementwise passes, all written into reused scratch: d, d², then d³ and d⁴ in place.
  Workspace local;
  Workspace& w = ws ? *ws : local;
  auto mean = x.mean(reduce_dim, /*keepdim=*/true);
  auto d = w.get(kSlotDeviation, x.sizes(), x.options());
  at::sub_out(d, x, mean);
  auto p = w.get(kSlotPower, x.sizes(), x.options());
  at::mul_out(p, d, d);
  std::vector<at::Tensor> parts{mean.squeeze(reduce_dim), p.sum(reduce_dim)};
  if (higher) {
    parts.push_back(d.mul_(p).sum(reduce_dim));
    parts.push_back(p.mul_(p).sum(reduce_dim));
  }
  parts.push_back(at::amin(x, {reduce_dim}));
  parts.push_back(at::amax(x, {reduce_dim}));
  // One transfer for all of them (one sync on a GPU).
  auto all = at::stack(parts).to(at::kCPU, at::kDouble);
  size_t i = 0;
  out.mean = all[i++];
  out.m2 = all[i++];
  if (higher) {
    out.m3 = all[i++];
    out.m4 = all[i++];
  }
  out.min = all[i++];
  out.max = all[i++];
  return out;
}

std::vector<double> to_doubles(const at::Tensor& t) {
  if (!t.defined()) return {};
  auto c = t.to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

namespace {

// A CPU float64 tensor's values, contiguous (the per-channel results already are).
const double* doubles(const at::Tensor& t, at::Tensor& keep) {
  keep = t.to(at::kCPU, at::kDouble).contiguous();
  return keep.data_ptr<double>();
}

}  // namespace

// Plain loops: the vectors are per-channel (hundreds to thousands of values), where each libtorch
// op costs more in dispatch than in arithmetic, and this runs for every point and batch.
Moments pool_channels(const ChannelMoments& c) {
  QUENCH_CHECK(c.m3.defined() && c.m4.defined(), "pool_channels: the channel moments lack M3/M4");
  const int64_t k = c.mean.numel();
  const double n = static_cast<double>(c.n);
  at::Tensor k0, k2, k3, k4;
  const double *mean = doubles(c.mean, k0), *m2 = doubles(c.m2, k2), *m3 = doubles(c.m3, k3), *m4 = doubles(c.m4, k4);
  Moments m;
  m.n = n * static_cast<double>(k);
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) sum += mean[i];
  m.mean = sum / static_cast<double>(k);
  for (int64_t i = 0; i < k; ++i) {
    const double d = mean[i] - m.mean, d2 = d * d;  // each channel's offset from the pooled mean
    m.m2 += m2[i] + n * d2;
    m.m3 += m3[i] + 3.0 * d * m2[i] + n * d2 * d;
    m.m4 += m4[i] + 4.0 * d * m3[i] + 6.0 * d2 * m2[i] + n * d2 * d2;
  }
  return m;
}

void merge_channel_m2(double& n, at::Tensor& mean, at::Tensor& m2, double bn, const at::Tensor& bmean, const at::Tensor& bm2) {
  if (bn == 0) return;
  if (n == 0) {
    n = bn;
    mean = bmean.to(at::kCPU, at::kDouble).contiguous().clone();
    m2 = bm2.to(at::kCPU, at::kDouble).contiguous().clone();
    return;
  }
  const double nn = n + bn;
  at::Tensor k0, k1;
  const double *bm = doubles(bmean, k0), *bq = doubles(bm2, k1);
  double *pm = mean.data_ptr<double>(), *pq = m2.data_ptr<double>();
  for (int64_t i = 0; i < mean.numel(); ++i) {
    const double d = bm[i] - pm[i];
    pq[i] += bq[i] + d * d * (n * bn / nn);
    pm[i] += d * (bn / nn);
  }
  n = nn;
}

}  // namespace quench
