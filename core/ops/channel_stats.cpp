#include "core/ops/channel_stats.h"

#include <ATen/Parallel.h>
#include <ATen/WrapDimUtils.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/ops/device.h"
#include "core/util/error.h"

#if QUENCH_WITH_CUDA
#include "kernels/channel_stats.h"
#endif

namespace quench::ops {

namespace {

struct HistSpec {
  int64_t bins = 0;
  float scale = 0.f, offset = 0.f;  // bin = floor(fma(v, scale, offset)), the same floats on CPU and GPU
  bool higher = false, row_absmax = false;
};

HistSpec hist_spec(const ChannelStatsOptions& opt) {
  HistSpec h;
  h.bins = opt.bins;
  if (h.bins > 0) {
    h.scale = static_cast<float>(static_cast<double>(opt.bins) / (2.0 * opt.hist_range));
    h.offset = static_cast<float>(opt.bins / 2);
  }
  h.higher = opt.higher;
  h.row_absmax = opt.row_absmax;
  return h;
}

// x as a 2-D [rows, C] tensor whose last dim is contiguous.
at::Tensor as_rows(const at::Tensor& x, int64_t channel_dim) {
  const int64_t cd = at::maybe_wrap_dim(channel_dim, x.dim());
  at::Tensor t = cd == x.dim() - 1 ? x : x.movedim(cd, -1);
  const int64_t C = t.size(-1);
  if (t.dim() == 2 && t.stride(1) == 1 && t.stride(0) >= C) return t;
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < t.dim(); ++d) rows *= t.size(d);
  return t.contiguous().view({rows, C});
}

void validate(const at::Tensor& x, const ChannelStatsOptions& opt) {
  QUENCH_CHECK(x.defined() && x.dim() >= 1, "channel_stats: x must be a tensor of at least 1 dim");
  const auto t = x.scalar_type();
  QUENCH_CHECK(t == at::kFloat || t == at::kHalf || t == at::kBFloat16, "channel_stats: x must be float32, float16 or bfloat16, got ",
               detail::dtype_name(t));
  QUENCH_CHECK(opt.channel_dim >= -x.dim() && opt.channel_dim < x.dim(), "channel_stats: channel_dim ", opt.channel_dim,
               " out of range for a ", x.dim(), "-d tensor");
  QUENCH_CHECK(opt.bins >= 0 && opt.bins <= (int64_t{1} << 24), "channel_stats: bins must be in [0, 2^24], got ", opt.bins);
  QUENCH_CHECK(opt.bins == 0 || (opt.hist_range > 0 && std::isfinite(opt.hist_range)),
               "channel_stats: a histogram needs a finite hist_range > 0, got ", opt.hist_range);
  if (opt.shift.defined()) {
    const int64_t C = x.size(at::maybe_wrap_dim(opt.channel_dim, x.dim()));
    QUENCH_CHECK(opt.shift.scalar_type() == at::kFloat && opt.shift.dim() == 1 && opt.shift.numel() == C &&
                     opt.shift.device() == x.device(),
                 "channel_stats: shift must be a float32 [", C, "] on ", x.device(), ", got ", detail::dtype_name(opt.shift.scalar_type()),
                 " ", opt.shift.sizes(), " on ", opt.shift.device());
  }
}

void check_out(const at::Tensor& t, at::ScalarType dtype, int64_t n, const at::Tensor& x, const char* name) {
  QUENCH_CHECK(t.defined(), "channel_stats_out: out.", name, " is undefined");
  QUENCH_CHECK(t.scalar_type() == dtype && t.numel() == n && t.dim() == 1 && t.is_contiguous() && t.device() == x.device(),
               "channel_stats_out: out.", name, " must be a contiguous ", detail::dtype_name(dtype), " [", n, "] on ", x.device(),
               ", got ", detail::dtype_name(t.scalar_type()), " ", t.sizes(), " on ", t.device());
}

// The CPU reference: rows split into chunks, each chunk keeps its own per-channel partials
// (double sums) and histogram, merged at the end.
void reference(const at::Tensor& x2, const at::Tensor& shift, const HistSpec& hs, ChannelStats& out) {
  const at::Tensor xf = x2.to(at::kFloat).contiguous();
  const int64_t R = xf.size(0), C = xf.size(1);
  const float* px = xf.data_ptr<float>();
  const at::Tensor shf = shift.defined() ? shift.to(at::kCPU).contiguous() : at::zeros({C}, at::kFloat);
  const float* psh = shf.data_ptr<float>();
  at::Tensor rowmax = hs.row_absmax ? at::empty({R}, at::kFloat) : at::Tensor();
  float* prow = hs.row_absmax ? rowmax.data_ptr<float>() : nullptr;
  const int64_t nchunks = std::max<int64_t>(1, std::min<int64_t>(R, 4 * at::get_num_threads()));
  struct Part {
    std::vector<float> am, mn, mx;
    std::vector<double> s, ss, s3, s4;
    std::vector<int64_t> hist;
  };
  std::vector<Part> parts(static_cast<size_t>(nchunks));
  const float bin_max = static_cast<float>(hs.bins - 1);
  at::parallel_for(0, nchunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t k = cb; k < ce; ++k) {
      Part& p = parts[static_cast<size_t>(k)];
      p.am.assign(C, 0.f);
      p.mn.assign(C, std::numeric_limits<float>::infinity());
      p.mx.assign(C, -std::numeric_limits<float>::infinity());
      p.s.assign(C, 0.0);
      p.ss.assign(C, 0.0);
      p.s3.assign(C, 0.0);
      p.s4.assign(C, 0.0);
      p.hist.assign(static_cast<size_t>(hs.bins), 0);
      const int64_t r0 = R * k / nchunks, r1 = R * (k + 1) / nchunks;
      for (int64_t r = r0; r < r1; ++r) {
        const float* row = px + r * C;
        float rm = 0.f;
        for (int64_t c = 0; c < C; ++c) {
          const float v = row[c];
          p.am[c] = std::fmax(p.am[c], std::fabs(v));
          rm = std::fmax(rm, std::fabs(v));
          p.mn[c] = std::fmin(p.mn[c], v);
          p.mx[c] = std::fmax(p.mx[c], v);
          const double d = static_cast<double>(v - psh[c]), d2 = d * d;
          p.s[c] += d;
          p.ss[c] += d2;
          if (hs.higher) {
            p.s3[c] += d2 * d;
            p.s4[c] += d2 * d2;
          }
          if (hs.bins > 0 && v == v) {
            const float t = std::fmin(std::fmax(std::fmaf(v, hs.scale, hs.offset), 0.f), bin_max);
            ++p.hist[static_cast<size_t>(t)];
          }
        }
        if (prow) prow[r] = rm;
      }
    }
  });
  auto am = at::empty({C}, at::kFloat), mn = at::empty({C}, at::kFloat), mx = at::empty({C}, at::kFloat);
  auto s = at::empty({C}, at::kDouble), ss = at::empty({C}, at::kDouble);
  auto s3 = at::empty({C}, at::kDouble), s4 = at::empty({C}, at::kDouble);
  for (int64_t c = 0; c < C; ++c) {
    float a = 0.f, lo = std::numeric_limits<float>::infinity(), hi = -lo;
    double su = 0, sq = 0, su3 = 0, su4 = 0;
    for (const Part& p : parts) {
      a = std::fmax(a, p.am[c]);
      lo = std::fmin(lo, p.mn[c]);
      hi = std::fmax(hi, p.mx[c]);
      su += p.s[c];
      sq += p.ss[c];
      su3 += p.s3[c];
      su4 += p.s4[c];
    }
    s3.data_ptr<double>()[c] = su3;
    s4.data_ptr<double>()[c] = su4;
    am.data_ptr<float>()[c] = a;
    mn.data_ptr<float>()[c] = lo;
    mx.data_ptr<float>()[c] = hi;
    s.data_ptr<double>()[c] = su;
    ss.data_ptr<double>()[c] = sq;
  }
  out.absmax.copy_(am);
  out.min.copy_(mn);
  out.max.copy_(mx);
  out.sum.copy_(s);
  out.sumsq.copy_(ss);
  if (hs.higher) {
    out.sum3.copy_(s3);
    out.sum4.copy_(s4);
  }
  if (hs.row_absmax) out.row_absmax.copy_(rowmax);
  if (hs.bins > 0) {
    auto h = at::zeros({hs.bins}, at::kLong);
    int64_t* ph = h.data_ptr<int64_t>();
    for (const Part& p : parts)
      for (int64_t b = 0; b < hs.bins; ++b) ph[b] += p.hist[static_cast<size_t>(b)];
    out.histogram.copy_(h);
  }
}

#if QUENCH_WITH_CUDA
void run_cuda(const at::Tensor& x2, const at::Tensor& shift, const HistSpec& hs, ChannelStats& out) {
  const c10::DeviceGuard guard(x2.device());
  kernels::ChannelStatsParams p;
  p.x = x2.data_ptr();
  p.dtype = detail::kernel_dtype(x2.scalar_type(), "channel_stats");
  p.rows = x2.size(0);
  p.cols = x2.size(1);
  p.row_stride = x2.stride(0);
  p.absmax = out.absmax.data_ptr<float>();
  p.min = out.min.data_ptr<float>();
  p.max = out.max.data_ptr<float>();
  p.sum = out.sum.data_ptr<double>();
  p.sumsq = out.sumsq.data_ptr<double>();
  const at::Tensor sh = shift.defined() ? shift.contiguous() : shift;
  p.shift = sh.defined() ? sh.data_ptr<float>() : nullptr;
  p.sum3 = hs.higher ? out.sum3.data_ptr<double>() : nullptr;
  p.sum4 = hs.higher ? out.sum4.data_ptr<double>() : nullptr;
  p.row_absmax = hs.row_absmax ? out.row_absmax.data_ptr<float>() : nullptr;
  p.bins = hs.bins;
  p.hist_scale = hs.scale;
  p.hist_offset = hs.offset;
  p.histogram = hs.bins > 0 ? out.histogram.data_ptr<int64_t>() : nullptr;
  const size_t ws_bytes = kernels::channel_stats_workspace_bytes(p);
  auto ws = at::empty({static_cast<int64_t>(std::max<size_t>(ws_bytes, 16))}, x2.options().dtype(at::kByte));
  p.workspace = ws.data_ptr();
  detail::check(kernels::channel_stats(p, detail::stream_for(x2)), "channel_stats");
}
#endif

}  // namespace

bool channel_stats_on_kernel(const at::Tensor& x) {
  const auto t = x.scalar_type();
  return detail::on_cuda(x) && (t == at::kFloat || t == at::kHalf || t == at::kBFloat16);
}

void channel_stats_out(const at::Tensor& x, const ChannelStatsOptions& opt, ChannelStats& out) {
  validate(x, opt);
  const at::Tensor x2 = as_rows(x, opt.channel_dim);
  const int64_t C = x2.size(1);
  check_out(out.absmax, at::kFloat, C, x, "absmax");
  check_out(out.min, at::kFloat, C, x, "min");
  check_out(out.max, at::kFloat, C, x, "max");
  check_out(out.sum, at::kDouble, C, x, "sum");
  check_out(out.sumsq, at::kDouble, C, x, "sumsq");
  if (opt.bins > 0) check_out(out.histogram, at::kLong, opt.bins, x, "histogram");
  if (opt.higher) {
    check_out(out.sum3, at::kDouble, C, x, "sum3");
    check_out(out.sum4, at::kDouble, C, x, "sum4");
  }
  if (opt.row_absmax) check_out(out.row_absmax, at::kFloat, x2.size(0), x, "row_absmax");
  out.rows = x2.size(0);
  const HistSpec hs = hist_spec(opt);
  if (x2.device().is_cpu()) return reference(x2, opt.shift, hs, out);
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x2)) return run_cuda(x2, opt.shift, hs, out);
#endif
  // Another device (or CUDA in a build without kernels): the reference on a CPU copy.
  ChannelStats tmp;
  const auto cpu = at::TensorOptions().device(at::kCPU);
  tmp.absmax = at::empty({C}, cpu.dtype(at::kFloat));
  tmp.min = at::empty({C}, cpu.dtype(at::kFloat));
  tmp.max = at::empty({C}, cpu.dtype(at::kFloat));
  tmp.sum = at::empty({C}, cpu.dtype(at::kDouble));
  tmp.sumsq = at::empty({C}, cpu.dtype(at::kDouble));
  if (opt.bins > 0) tmp.histogram = at::empty({opt.bins}, cpu.dtype(at::kLong));
  if (opt.higher) {
    tmp.sum3 = at::empty({C}, cpu.dtype(at::kDouble));
    tmp.sum4 = at::empty({C}, cpu.dtype(at::kDouble));
  }
  if (opt.row_absmax) tmp.row_absmax = at::empty({x2.size(0)}, cpu.dtype(at::kFloat));
  reference(x2.cpu(), opt.shift, hs, tmp);
  out.absmax.copy_(tmp.absmax);
  out.min.copy_(tmp.min);
  out.max.copy_(tmp.max);
  out.sum.copy_(tmp.sum);
  out.sumsq.copy_(tmp.sumsq);
  if (opt.bins > 0) out.histogram.copy_(tmp.histogram);
  if (opt.higher) {
    out.sum3.copy_(tmp.sum3);
    out.sum4.copy_(tmp.sum4);
  }
  if (opt.row_absmax) out.row_absmax.copy_(tmp.row_absmax);
}

ChannelStats channel_stats(const at::Tensor& x, const ChannelStatsOptions& opt) {
  validate(x, opt);
  const int64_t C = x.size(at::maybe_wrap_dim(opt.channel_dim, x.dim()));
  const auto o = x.options();
  ChannelStats out;
  out.absmax = at::empty({C}, o.dtype(at::kFloat));
  out.min = at::empty({C}, o.dtype(at::kFloat));
  out.max = at::empty({C}, o.dtype(at::kFloat));
  out.sum = at::empty({C}, o.dtype(at::kDouble));
  out.sumsq = at::empty({C}, o.dtype(at::kDouble));
  if (opt.bins > 0) out.histogram = at::empty({opt.bins}, o.dtype(at::kLong));
  if (opt.higher) {
    out.sum3 = at::empty({C}, o.dtype(at::kDouble));
    out.sum4 = at::empty({C}, o.dtype(at::kDouble));
  }
  if (opt.row_absmax) {
    int64_t rows = 1;  // every dim but the channel's
    for (int64_t d = 0; d < x.dim(); ++d)
      if (d != at::maybe_wrap_dim(opt.channel_dim, x.dim())) rows *= x.size(d);
    out.row_absmax = at::empty({rows}, o.dtype(at::kFloat));
  }
  channel_stats_out(x, opt, out);
  return out;
}

}  // namespace quench::ops
