#include "core/ops/fake_quant.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/ops/channel_stats.h"
#include "core/ops/device.h"
#include "core/util/error.h"
#include "kernels/quant_math.h"

#if QUENCH_WITH_CUDA
#include "kernels/fake_quant.h"
#endif

namespace quench::ops {

namespace qm = kernels::qmath;

namespace {

enum class Op { Fake, Quantize, Dequantize };

// x as [R, C] and where each element's (scale, zero) lives: params[r·srs + c / group].
struct Layout {
  int64_t R = 1, C = 1, group = 1, srs = 0, nparams = 1;
};

const char* granularity_name(Granularity g) {
  switch (g) {
    case Granularity::Tensor: return "tensor";
    case Granularity::Row: return "row";
    case Granularity::Column: return "column";
    case Granularity::Group: return "group";
  }
  return "?";
}

void validate_spec(const QuantSpec& s, const char* op) {
  QUENCH_CHECK(s.bits >= 2 && s.bits <= 8, op, ": bits must be in [2, 8], got ", s.bits);
  QUENCH_CHECK(s.clip > 0 && std::isfinite(s.clip), op, ": clip must be finite and > 0, got ", s.clip);
  QUENCH_CHECK(s.granularity != Granularity::Group || s.group_size >= 1, op, ": group granularity needs group_size >= 1, got ",
               s.group_size);
}

void validate_float(const at::Tensor& x, const char* op, const char* name) {
  QUENCH_CHECK(x.defined(), op, ": ", name, " is undefined");
  const auto t = x.scalar_type();
  QUENCH_CHECK(t == at::kFloat || t == at::kHalf || t == at::kBFloat16, op, ": ", name, " must be float32, float16 or bfloat16, got ",
               detail::dtype_name(t));
}

Layout layout(const at::Tensor& x, const QuantSpec& s) {
  Layout L;
  L.C = x.dim() == 0 ? 1 : x.size(-1);
  L.R = 1;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) L.R *= x.size(d);
  switch (s.granularity) {
    case Granularity::Tensor: L.group = std::max<int64_t>(L.C, 1), L.srs = 0, L.nparams = 1; break;
    case Granularity::Row: L.group = std::max<int64_t>(L.C, 1), L.srs = 1, L.nparams = L.R; break;
    case Granularity::Column: L.group = 1, L.srs = 0, L.nparams = L.C; break;
    case Granularity::Group: {
      const int64_t G = (L.C + s.group_size - 1) / s.group_size;
      L.group = s.group_size, L.srs = G, L.nparams = L.R * G;
      break;
    }
  }
  return L;
}

at::Tensor rows_of(const at::Tensor& x, const Layout& L) { return x.contiguous().view({L.R, L.C}); }

// Params moved to `device`, float32 / int32, contiguous, checked against the layout.
QuantParams prepare(const QuantParams& p, const QuantSpec& s, const Layout& L, at::Device device, const char* op) {
  QUENCH_CHECK(p.scale.defined(), op, ": scale is undefined");
  QUENCH_CHECK(p.scale.numel() == L.nparams, op, ": ", granularity_name(s.granularity), " granularity needs ", L.nparams,
               " scales, got ", p.scale.numel(), " (shape ", p.scale.sizes(), ")");
  QUENCH_CHECK(p.scale.is_floating_point(), op, ": scale must be floating point, got ", detail::dtype_name(p.scale.scalar_type()));
  QuantParams out;
  out.scale = p.scale.to(device, at::kFloat).contiguous();
  if (s.symmetric) {
    QUENCH_CHECK(!p.zero.defined(), op, ": symmetric quantization takes no zero points");
  } else {
    QUENCH_CHECK(p.zero.defined(), op, ": asymmetric quantization needs zero points");
    QUENCH_CHECK(p.zero.numel() == L.nparams, op, ": needs ", L.nparams, " zero points, got ", p.zero.numel());
    QUENCH_CHECK(!p.zero.is_floating_point() && p.zero.scalar_type() != at::kBool, op, ": zero points must be integers, got ",
                 detail::dtype_name(p.zero.scalar_type()));
    out.zero = p.zero.to(device, at::kInt).contiguous();
  }
  return out;
}

void check_out(const at::Tensor& out, const at::Tensor& like, at::ScalarType dtype, const char* op) {
  QUENCH_CHECK(out.defined(), op, ": out is undefined");
  QUENCH_CHECK(out.sizes() == like.sizes() && out.scalar_type() == dtype && out.device() == like.device() && out.is_contiguous(), op,
               ": out must be a contiguous ", detail::dtype_name(dtype), " ", like.sizes(), " on ", like.device(), ", got ",
               detail::dtype_name(out.scalar_type()), " ", out.sizes(), " on ", out.device());
  QUENCH_CHECK(!out.is_same(like) && out.data_ptr() != like.data_ptr(), op, ": out may not alias the input");
}

// ---- CPU reference -------------------------------------------------------------------------

struct Ranges {
  std::vector<float> mn, mx, am;
  explicit Ranges(int64_t n)
      : mn(n, std::numeric_limits<float>::infinity()), mx(n, -std::numeric_limits<float>::infinity()), am(n, 0.f) {}
  void add(int64_t i, float v) {
    mn[i] = std::fmin(mn[i], v);
    mx[i] = std::fmax(mx[i], v);
    am[i] = std::fmax(am[i], std::fabs(v));
  }
};

Ranges ranges_cpu(const at::Tensor& xf, const Layout& L, Granularity g) {
  const float* px = xf.data_ptr<float>();
  Ranges out(L.nparams);
  if (g == Granularity::Row || g == Granularity::Group) {
    at::parallel_for(0, L.R, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = 0; c < L.C; ++c) out.add(r * L.srs + c / L.group, px[r * L.C + c]);
    });
    return out;
  }
  // Tensor and Column: per-chunk partials over rows, merged (min/max are order-free).
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(L.R, 4 * at::get_num_threads()));
  std::vector<Ranges> parts(static_cast<size_t>(chunks), Ranges(L.nparams));
  at::parallel_for(0, chunks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      for (int64_t r = L.R * k / chunks; r < L.R * (k + 1) / chunks; ++r)
        for (int64_t c = 0; c < L.C; ++c) parts[k].add(g == Granularity::Column ? c : 0, px[r * L.C + c]);
  });
  for (const Ranges& p : parts)
    for (int64_t i = 0; i < L.nparams; ++i) {
      out.mn[i] = std::fmin(out.mn[i], p.mn[i]);
      out.mx[i] = std::fmax(out.mx[i], p.mx[i]);
      out.am[i] = std::fmax(out.am[i], p.am[i]);
    }
  return out;
}

QuantParams params_cpu(const float* am, const float* mn, const float* mx, int64_t n, const QuantSpec& s) {
  QuantParams p;
  p.scale = at::empty({n}, at::kFloat);
  float* ps = p.scale.data_ptr<float>();
  int32_t* pz = nullptr;
  if (!s.symmetric) {
    p.zero = at::empty({n}, at::kInt);
    pz = p.zero.data_ptr<int32_t>();
  }
  const float clip = static_cast<float>(s.clip);
  for (int64_t i = 0; i < n; ++i) {
    if (s.symmetric) {
      ps[i] = qm::scale_symmetric(am[i], s.bits, clip);
    } else {
      float sc, z;
      qm::scale_zero_asymmetric(mn[i], mx[i], s.bits, clip, &sc, &z);
      ps[i] = sc;
      pz[i] = static_cast<int32_t>(z);
    }
  }
  return p;
}

// in/out: [R, C] contiguous CPU tensors; Fake and Dequantize compute float32 and the caller
// converts to the target dtype (float → half/bfloat16 rounds to nearest even, as on the GPU).
void apply_cpu(Op op, const at::Tensor& in, const at::Tensor& out, const Layout& L, const QuantParams& p, const QuantSpec& s) {
  const float* ps = p.scale.data_ptr<float>();
  const int32_t* pz = s.symmetric ? nullptr : p.zero.data_ptr<int32_t>();
  const float lo = qm::qmin(s.bits, s.symmetric), hi = qm::qmax(s.bits, s.symmetric);
  at::parallel_for(0, L.R, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = 0; c < L.C; ++c) {
        const int64_t i = r * L.C + c, k = r * L.srs + c / L.group;
        const float sc = ps[k], z = pz ? static_cast<float>(pz[k]) : 0.f;
        switch (op) {
          case Op::Fake: out.data_ptr<float>()[i] = qm::dequantize(qm::quantize(in.data_ptr<float>()[i], sc, z, lo, hi), sc, z); break;
          case Op::Quantize: {
            const float q = qm::quantize(in.data_ptr<float>()[i], sc, z, lo, hi);
            if (s.symmetric) out.data_ptr<int8_t>()[i] = static_cast<int8_t>(q);
            else out.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(q);
            break;
          }
          case Op::Dequantize: {
            const float q = s.symmetric ? static_cast<float>(in.data_ptr<int8_t>()[i]) : static_cast<float>(in.data_ptr<uint8_t>()[i]);
            out.data_ptr<float>()[i] = qm::dequantize(q, sc, z);
            break;
          }
        }
      }
  });
}

// ---- CUDA ---------------------------------------------------------------------------------

#if QUENCH_WITH_CUDA
void apply_cuda(Op op, const at::Tensor& in, const at::Tensor& out, const Layout& L, const QuantParams& p, const QuantSpec& s) {
  const c10::DeviceGuard guard(in.device());
  kernels::QuantApplyParams k;
  k.op = op == Op::Fake ? kernels::QuantOp::Fake : op == Op::Quantize ? kernels::QuantOp::Quantize : kernels::QuantOp::Dequantize;
  k.in = in.data_ptr();
  k.in_dtype = detail::kernel_dtype(in.scalar_type(), "fake_quant");
  k.out = out.data_ptr();
  k.out_dtype = detail::kernel_dtype(out.scalar_type(), "fake_quant");
  k.rows = L.R;
  k.cols = L.C;
  k.scale = p.scale.data_ptr<float>();
  k.zero = s.symmetric ? nullptr : p.zero.data_ptr<int32_t>();
  k.group = L.group;
  k.scale_row_stride = L.srs;
  k.bits = s.bits;
  detail::check(kernels::quant_apply(k, detail::stream_for(in)), "fake_quant");
}

// Row / Group with computed params: one pass. out may be undefined (params only).
QuantParams dynamic_cuda(Op op, const at::Tensor& x2, const at::Tensor& out, const Layout& L, const QuantSpec& s) {
  const c10::DeviceGuard guard(x2.device());
  QuantParams p;
  p.scale = at::empty({L.nparams}, x2.options().dtype(at::kFloat));
  if (!s.symmetric) p.zero = at::empty({L.nparams}, x2.options().dtype(at::kInt));
  kernels::QuantDynamicParams k;
  k.op = !out.defined() ? kernels::QuantOp::ParamsOnly : op == Op::Fake ? kernels::QuantOp::Fake : kernels::QuantOp::Quantize;
  k.in = x2.data_ptr();
  k.in_dtype = detail::kernel_dtype(x2.scalar_type(), "fake_quant");
  if (out.defined()) {
    k.out = out.data_ptr();
    k.out_dtype = detail::kernel_dtype(out.scalar_type(), "fake_quant");
  }
  k.rows = L.R;
  k.cols = L.C;
  k.group = L.group;
  k.bits = s.bits;
  k.symmetric = s.symmetric;
  k.clip = static_cast<float>(s.clip);
  k.scale_out = p.scale.data_ptr<float>();
  k.zero_out = s.symmetric ? nullptr : p.zero.data_ptr<int32_t>();
  detail::check(kernels::quant_dynamic(k, detail::stream_for(x2)), "fake_quant");
  return p;
}

QuantParams params_from_range_cuda(const at::Tensor& am, const at::Tensor& mn, const at::Tensor& mx, const QuantSpec& s) {
  const at::Tensor& like = s.symmetric ? am : mn;
  const c10::DeviceGuard guard(like.device());
  QuantParams p;
  p.scale = at::empty({like.numel()}, like.options().dtype(at::kFloat));
  if (!s.symmetric) p.zero = at::empty({like.numel()}, like.options().dtype(at::kInt));
  const at::Tensor a = s.symmetric ? am.to(at::kFloat).contiguous() : at::Tensor();
  const at::Tensor lo = s.symmetric ? at::Tensor() : mn.to(at::kFloat).contiguous();
  const at::Tensor hi = s.symmetric ? at::Tensor() : mx.to(at::kFloat).contiguous();
  kernels::QuantParamsFromRange k;
  k.absmax = s.symmetric ? a.data_ptr<float>() : nullptr;
  k.min = s.symmetric ? nullptr : lo.data_ptr<float>();
  k.max = s.symmetric ? nullptr : hi.data_ptr<float>();
  k.n = like.numel();
  k.bits = s.bits;
  k.symmetric = s.symmetric;
  k.clip = static_cast<float>(s.clip);
  k.scale_out = p.scale.data_ptr<float>();
  k.zero_out = s.symmetric ? nullptr : p.zero.data_ptr<int32_t>();
  detail::check(kernels::quant_params_from_range(k, detail::stream_for(like)), "qparams_from_range");
  return p;
}
#endif

bool native(const at::Tensor& x) { return x.device().is_cpu() || detail::on_cuda(x); }

QuantParams reshape_params(QuantParams p, const std::vector<int64_t>& shape) {
  p.scale = p.scale.view(shape);
  if (p.zero.defined()) p.zero = p.zero.view(shape);
  return p;
}

QuantParams to_device(QuantParams p, at::Device d) {
  p.scale = p.scale.to(d);
  if (p.zero.defined()) p.zero = p.zero.to(d);
  return p;
}

at::ScalarType q_dtype(const QuantSpec& s) { return s.symmetric ? at::kChar : at::kByte; }

// Given params, any op: x2/out are [R, C] views.
void apply(Op op, const at::Tensor& x, const QuantParams& given, const QuantSpec& s, at::Tensor& out, const char* name) {
  validate_spec(s, name);
  const Layout L = layout(x, s);
  if (!native(x)) {
    at::Tensor tmp = at::empty(out.sizes(), out.options().device(at::kCPU));
    apply(op, x.cpu(), to_device(given, at::kCPU), s, tmp, name);
    out.copy_(tmp);
    return;
  }
  const QuantParams p = prepare(given, s, L, x.device(), name);
  const at::Tensor in = rows_of(x, L);
  at::Tensor out2 = out.view({L.R, L.C});
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x)) return apply_cuda(op, in, out2, L, p, s);
#endif
  if (op == Op::Quantize) return apply_cpu(op, in.to(at::kFloat).contiguous(), out2, L, p, s);
  const at::Tensor src = op == Op::Fake ? in.to(at::kFloat).contiguous() : in;
  at::Tensor res = out.scalar_type() == at::kFloat ? out2 : at::empty({L.R, L.C}, at::kFloat);
  apply_cpu(op, src, res, L, p, s);
  if (!res.is_same(out2)) out2.copy_(res);
}

}  // namespace

std::vector<int64_t> qparams_shape(const at::Tensor& x, const QuantSpec& spec) {
  validate_spec(spec, "qparams_shape");
  const Layout L = layout(x, spec);
  switch (spec.granularity) {
    case Granularity::Tensor: return {1};
    case Granularity::Row: return {L.R};
    case Granularity::Column: return {L.C};
    case Granularity::Group: return {L.R, L.srs};
  }
  return {1};
}

QuantParams qparams_from_range(const at::Tensor& absmax, const at::Tensor& min, const at::Tensor& max, const QuantSpec& spec) {
  validate_spec(spec, "qparams_from_range");
  if (spec.symmetric) {
    QUENCH_CHECK(absmax.defined(), "qparams_from_range: symmetric needs absmax");
  } else {
    QUENCH_CHECK(min.defined() && max.defined() && min.sizes() == max.sizes() && min.device() == max.device(),
                 "qparams_from_range: asymmetric needs min and max of one shape and device");
  }
  const at::Tensor& like = spec.symmetric ? absmax : min;
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(like)) return reshape_params(params_from_range_cuda(absmax, min, max, spec), like.sizes().vec());
#endif
  const at::Tensor am = spec.symmetric ? absmax.to(at::kCPU, at::kFloat).contiguous() : at::Tensor();
  const at::Tensor lo = spec.symmetric ? at::Tensor() : min.to(at::kCPU, at::kFloat).contiguous();
  const at::Tensor hi = spec.symmetric ? at::Tensor() : max.to(at::kCPU, at::kFloat).contiguous();
  QuantParams p = params_cpu(spec.symmetric ? am.data_ptr<float>() : nullptr, spec.symmetric ? nullptr : lo.data_ptr<float>(),
                             spec.symmetric ? nullptr : hi.data_ptr<float>(), like.numel(), spec);
  return to_device(reshape_params(p, like.sizes().vec()), like.device());
}

QuantParams compute_qparams(const at::Tensor& x, const QuantSpec& spec) {
  validate_spec(spec, "compute_qparams");
  validate_float(x, "compute_qparams", "x");
  const Layout L = layout(x, spec);
  const auto shape = qparams_shape(x, spec);
  QUENCH_CHECK(x.numel() > 0, "compute_qparams: x is empty");
  if (!native(x)) return to_device(compute_qparams(x.cpu(), spec), x.device());
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x)) {
    const at::Tensor x2 = rows_of(x, L);
    if (spec.granularity == Granularity::Row || spec.granularity == Granularity::Group)
      return reshape_params(dynamic_cuda(Op::Fake, x2, at::Tensor(), L, spec), shape);
    const ChannelStats st = channel_stats(x2);
    if (spec.granularity == Granularity::Column) return reshape_params(qparams_from_range(st.absmax, st.min, st.max, spec), shape);
    return reshape_params(qparams_from_range(st.absmax.max().view({1}), st.min.min().view({1}), st.max.max().view({1}), spec), shape);
  }
#endif
  const at::Tensor xf = rows_of(x, L).to(at::kFloat).contiguous();
  const Ranges r = ranges_cpu(xf, L, spec.granularity);
  return reshape_params(params_cpu(r.am.data(), r.mn.data(), r.mx.data(), L.nparams, spec), shape);
}

void quantize_out(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec, at::Tensor& out) {
  validate_float(x, "quantize", "x");
  check_out(out, x, q_dtype(spec), "quantize");
  apply(Op::Quantize, x, p, spec, out, "quantize");
}

void dequantize_out(const at::Tensor& q, const QuantParams& p, const QuantSpec& spec, at::Tensor& out) {
  QUENCH_CHECK(q.defined() && q.scalar_type() == q_dtype(spec), "dequantize: q must be ", spec.symmetric ? "int8 (symmetric)" : "uint8 (asymmetric)",
               ", got ", q.defined() ? detail::dtype_name(q.scalar_type()) : "undefined");
  validate_float(out, "dequantize", "out");
  check_out(out, q, out.scalar_type(), "dequantize");
  apply(Op::Dequantize, q, p, spec, out, "dequantize");
}

void fake_quant_out(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec, at::Tensor& out) {
  validate_float(x, "fake_quant", "x");
  check_out(out, x, x.scalar_type(), "fake_quant");
  apply(Op::Fake, x, p, spec, out, "fake_quant");
}

at::Tensor quantize(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec) {
  validate_spec(spec, "quantize");
  validate_float(x, "quantize", "x");
  at::Tensor out = at::empty(x.sizes(), x.options().dtype(q_dtype(spec)));
  quantize_out(x, p, spec, out);
  return out;
}

at::Tensor dequantize(const at::Tensor& q, const QuantParams& p, const QuantSpec& spec, at::ScalarType dtype) {
  validate_spec(spec, "dequantize");
  QUENCH_CHECK(q.defined(), "dequantize: q is undefined");
  at::Tensor out = at::empty(q.sizes(), q.options().dtype(dtype));
  dequantize_out(q, p, spec, out);
  return out;
}

at::Tensor fake_quant(const at::Tensor& x, const QuantParams& p, const QuantSpec& spec) {
  validate_float(x, "fake_quant", "x");
  at::Tensor out = at::empty(x.sizes(), x.options());
  fake_quant_out(x, p, spec, out);
  return out;
}

void fake_quant_out(const at::Tensor& x, const QuantSpec& spec, at::Tensor& out, QuantParams* params_out) {
  validate_spec(spec, "fake_quant");
  validate_float(x, "fake_quant", "x");
  check_out(out, x, x.scalar_type(), "fake_quant");
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x) && x.numel() > 0 && (spec.granularity == Granularity::Row || spec.granularity == Granularity::Group)) {
    const Layout L = layout(x, spec);
    QuantParams p = dynamic_cuda(Op::Fake, rows_of(x, L), out.view({L.R, L.C}), L, spec);
    if (params_out) *params_out = reshape_params(p, qparams_shape(x, spec));
    return;
  }
#endif
  const QuantParams p = compute_qparams(x, spec);
  apply(Op::Fake, x, p, spec, out, "fake_quant");
  if (params_out) *params_out = p;
}

at::Tensor fake_quant(const at::Tensor& x, const QuantSpec& spec, QuantParams* params_out) {
  validate_float(x, "fake_quant", "x");
  at::Tensor out = at::empty(x.sizes(), x.options());
  fake_quant_out(x, spec, out, params_out);
  return out;
}

Quantized quantize(const at::Tensor& x, const QuantSpec& spec) {
  validate_spec(spec, "quantize");
  validate_float(x, "quantize", "x");
  Quantized r;
  r.q = at::empty(x.sizes(), x.options().dtype(q_dtype(spec)));
#if QUENCH_WITH_CUDA
  if (detail::on_cuda(x) && x.numel() > 0 && (spec.granularity == Granularity::Row || spec.granularity == Granularity::Group)) {
    const Layout L = layout(x, spec);
    r.params = reshape_params(dynamic_cuda(Op::Quantize, rows_of(x, L), r.q.view({L.R, L.C}), L, spec), qparams_shape(x, spec));
    return r;
  }
#endif
  r.params = compute_qparams(x, spec);
  quantize_out(x, r.params, spec, r.q);
  return r;
}

at::Tensor fake_quant_per_token(const at::Tensor& x, int bits, bool symmetric, double clip) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = symmetric;
  s.granularity = Granularity::Row;
  s.clip = clip;
  return fake_quant(x, s);
}

}  // namespace quench::ops
