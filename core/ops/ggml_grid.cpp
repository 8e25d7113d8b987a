#include "core/ops/ggml_grid.h"

#include <cmath>

#include "core/ops/fp8.h"
#include "core/util/error.h"

namespace quench::ops {

namespace {

// fp16 rounding of a scale that must fit the type (a scale above fp16's range would be inf on disk).
at::Tensor to_half_grid(const at::Tensor& x) { return x.clamp(-65504.0, 65504.0).to(at::kHalf).to(at::kFloat); }

bool is_k(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q6_K; }

// Per-unit clip ratios expanded to one per slot, [R, C/slot, 1].
at::Tensor slot_clip(const at::Tensor& clip, int64_t R, int64_t units, int64_t slots_per_unit, const at::TensorOptions& o) {
  if (!clip.defined()) return at::ones({R, units * slots_per_unit, 1}, o);
  QUENCH_CHECK(clip.dim() == 2 && clip.size(0) == R && clip.size(1) == units, "ggml_fit: clip ratios ", clip.sizes(), " for ", R, "×", units,
               " units");
  return clip.to(o).repeat_interleave(slots_per_unit, 1).unsqueeze(-1);
}

// Sub-block codes of values v [R, U, n] against a super-block maximum over the code range top.
std::pair<at::Tensor, at::Tensor> two_level(const at::Tensor& v, int top) {
  const at::Tensor d = to_half_grid(v.amax(-1, true) / static_cast<double>(top));  // [R, U, 1]
  at::Tensor code = at::where(d > 0, at::round(v / at::where(d > 0, d, at::ones_like(d))), at::zeros_like(v)).clamp(0, top);
  return {d, code};
}

// MXFP4's codes in the integer form the other types use: E2M1 values doubled, so that
// x̂ = scale·q with q in {0, ±1, ±2, ±3, ±4, ±6, ±8, ±12} (ggml's kvalues_mxfp4).
at::Tensor snap_e2m1(const at::Tensor& v) {
  const at::Tensor a = v.abs();
  const at::Tensor m = at::where(a <= 4, at::round(a), at::where(a <= 8, 2 * at::round(a / 2), (4 * at::round(a / 4)).clamp_max(12)));
  return at::where((v < 0) & (m > 0), -m, m);  // no −0: ggml decodes code 0 as +0
}

// Round-to-grid of values already divided by their scale.
at::Tensor to_codes(const at::Tensor& v, GgmlType t, const GgmlGridInfo& g) {
  return t == GgmlType::MXFP4 || t == GgmlType::NVFP4 ? snap_e2m1(v) : at::round(v).clamp(g.qmin, g.qmax);
}

}  // namespace

bool ggml_is_float(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

GgmlGridInfo ggml_grid_info(GgmlType t) {
  switch (t) {
    case GgmlType::Q8_0: return {32, 32, -128, 127};
    case GgmlType::Q4_0: return {32, 32, -8, 7};
    case GgmlType::Q5_0: return {32, 32, -16, 15};
    case GgmlType::Q4_1: return {32, 32, 0, 15};
    case GgmlType::Q5_1: return {32, 32, 0, 31};
    case GgmlType::Q4_K: return {32, 256, 0, 15};
    case GgmlType::Q6_K: return {16, 256, -32, 31};
    case GgmlType::MXFP4: return {32, 32, -12, 12};
    // Fitted per 16; the unit is GGUF's block of 64, so that every layer Quench quantizes fits
    // both files (compressed-tensors alone would take multiples of 16).
    case GgmlType::NVFP4: return {16, 64, -12, 12};
    default: fail("ggml_grid_info: ", ggml_info(t).name, " is not a quantized type");
  }
}

at::Tensor nvfp4_global(const at::Tensor& w) {
  // 2^floor(log2(448·6 / amax)): the largest slot's E4M3 scale lands in (224, 448].
  const at::Tensor amax = w.detach().abs().max().to(at::kFloat).reshape({1});
  QUENCH_CHECK(at::isfinite(amax).all().item<bool>(), "NVFP4: the weight holds non-finite values");
  const at::Tensor g = at::exp2(at::floor(at::log2(2688.0 / amax))).clamp(std::ldexp(1.0, -100), std::ldexp(1.0, 100));
  return at::where(amax > 0, g, at::ones_like(g));
}

GgmlParams ggml_fit(const at::Tensor& w_in, GgmlType t, const at::Tensor& clip, const at::Tensor& global) {
  const GgmlGridInfo g = ggml_grid_info(t);
  QUENCH_CHECK(w_in.dim() == 2, "ggml_fit: expects a 2-d weight, got ", w_in.sizes());
  const int64_t R = w_in.size(0), C = w_in.size(1);
  QUENCH_CHECK(C % g.unit == 0, "ggml_fit: ", C, " columns do not divide into ", ggml_info(t).name, " blocks of ", g.unit);
  const at::Tensor w = w_in.to(at::kFloat);
  const int64_t slots = C / g.slot, units = C / g.unit, per_unit = g.unit / g.slot;
  const at::Tensor x = w.reshape({R, slots, g.slot});
  const at::Tensor r = slot_clip(clip, R, units, per_unit, w.options());
  GgmlParams p;
  p.type = t;
  switch (t) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q5_0: {
      const at::Tensor amax = x.abs().amax(-1, true) * r;
      at::Tensor d = to_half_grid(amax / static_cast<double>(g.qmax));
      d = at::where(d > 0, d, at::ones_like(d));
      p.scale = d.squeeze(-1);
      p.offset = at::zeros_like(p.scale);
      break;
    }
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: {
      const at::Tensor lo = x.amin(-1, true) * r, hi = x.amax(-1, true) * r;
      at::Tensor d = to_half_grid((hi - lo) / static_cast<double>(g.qmax));
      d = at::where(d > 0, d, at::ones_like(d));
      p.scale = d.squeeze(-1);
      p.offset = to_half_grid(lo).squeeze(-1);
      break;
    }
    case GgmlType::Q4_K: {
      const at::Tensor lo = (x.amin(-1) * r.squeeze(-1)).clamp_max(0), hi = (x.amax(-1) * r.squeeze(-1)).clamp_min(0);  // [R, slots]
      const at::Tensor s = ((hi - lo) / 15.0).reshape({R, units, per_unit});
      const at::Tensor mins = (-lo).reshape({R, units, per_unit});
      auto [d, sc] = two_level(s, 63);
      auto [dmin, mn] = two_level(mins, 63);
      sc = at::where((s > 0) & (sc == 0), at::ones_like(sc), sc);  // a sub-block with a range keeps a step
      p.d = d.squeeze(-1);
      p.dmin = dmin.squeeze(-1);
      p.sc = sc.reshape({R, slots}).to(at::kInt);
      p.mn = mn.reshape({R, slots}).to(at::kInt);
      p.scale = (d * sc).reshape({R, slots});
      p.offset = -(dmin * mn).reshape({R, slots});
      break;
    }
    case GgmlType::Q6_K: {
      const at::Tensor s = ((x.abs().amax(-1) * r.squeeze(-1)) / 31.0).reshape({R, units, per_unit});
      auto [d, sc] = two_level(s, 127);
      sc = at::where((s > 0) & (sc == 0), at::ones_like(sc), sc);
      p.d = d.squeeze(-1);
      p.dmin = at::zeros_like(p.d);
      p.sc = sc.reshape({R, slots}).to(at::kInt);
      p.mn = at::zeros_like(p.sc);
      p.scale = (d * sc).reshape({R, slots});
      p.offset = at::zeros_like(p.scale);
      break;
    }
    case GgmlType::MXFP4: {
      // The OCP MX rule, as ggml's quantize_row_mxfp4_ref: shared exponent floor(log2 amax) − 2, so
      // the largest value lands on 4..8 of the doubled grid (6..12 saturates); scale 2^(e − 128).
      const at::Tensor amax = x.abs().amax(-1, true) * r;
      const at::Tensor e = at::where(amax > 0, at::floor(at::log2(amax)) + 125, at::zeros_like(amax)).clamp(0, 254).to(at::kInt);
      // 2^(e − 128) built from its bits (exact, subnormals included), as ggml_e8m0_to_fp32_half does.
      const at::Tensor bits = at::where(e < 2, (e + 1) * 0x00200000, (e - 1) * 0x00800000);
      p.scale = bits.contiguous().view(at::kFloat).squeeze(-1);
      p.offset = at::zeros_like(p.scale);
      break;
    }
    case GgmlType::NVFP4: {
      const at::Tensor G = (global.defined() ? global : nvfp4_global(w)).to(w.device(), at::kFloat).reshape({1, 1, 1});
      const at::Tensor s = round_e4m3(x.abs().amax(-1, true) * r / 6.0 * G).clamp_max(kE4m3Max);  // E4M3, 0 … 448
      p.global = G.reshape({1});
      p.d = (s * 0.5).squeeze(-1);
      p.scale = (p.d.unsqueeze(-1) / G).squeeze(-1);
      p.offset = at::zeros_like(p.scale);
      p.dmin = p.offset;
      return p;
    }
    default: fail("ggml_fit: ", ggml_info(t).name, " is not a quantized type");
  }
  if (!is_k(t)) {
    p.d = p.scale;
    p.dmin = p.offset;
  }
  return p;
}

at::Tensor ggml_codes(const at::Tensor& w, const GgmlParams& p) {
  const GgmlGridInfo g = ggml_grid_info(p.type);
  QUENCH_CHECK(w.dim() == 2 && w.size(0) == p.scale.size(0) && w.size(1) == p.cols(), "ggml_codes: weight ", w.sizes(), " for parameters of ",
               p.scale.size(0), "×", p.cols());
  const int64_t R = w.size(0), S = p.scale.size(1);
  const at::Tensor x = w.to(at::kFloat).reshape({R, S, g.slot});
  const at::Tensor scale = p.scale.to(x.device()).unsqueeze(-1), offset = p.offset.to(x.device()).unsqueeze(-1);
  const at::Tensor live = scale != 0;
  at::Tensor q = to_codes((x - offset) / at::where(live, scale, at::ones_like(scale)), p.type, g);
  q = at::where(live, q, at::zeros_like(q));
  return q.reshape({R, S * g.slot}).to(at::kInt);
}

at::Tensor ggml_dequant(const at::Tensor& q, const GgmlParams& p) {
  const GgmlGridInfo g = ggml_grid_info(p.type);
  const int64_t R = q.size(0), S = p.scale.size(1);
  const at::Tensor qf = q.to(at::kFloat).reshape({R, S, g.slot});
  at::Tensor x = qf * p.scale.to(q.device()).unsqueeze(-1);
  // Same operations in the same order as llama.cpp's dequantize_row_*: d·q (+ m, − dmin·mn).
  if (p.type == GgmlType::Q4_1 || p.type == GgmlType::Q5_1 || p.type == GgmlType::Q4_K) x = x + p.offset.to(q.device()).unsqueeze(-1);
  return x.reshape({R, S * g.slot});
}

at::Tensor ggml_fake_quant(const at::Tensor& w, const GgmlParams& p) { return ggml_dequant(ggml_codes(w, p), p); }

at::Tensor ggml_fake_quant(const at::Tensor& w, GgmlType t, GgmlParams* params_out) {
  switch (t) {
    case GgmlType::F32: return w.to(at::kFloat);
    case GgmlType::F16: return w.to(at::kHalf).to(at::kFloat);
    case GgmlType::BF16: return w.to(at::kBFloat16).to(at::kFloat);
    default: break;
  }
  GgmlParams p = ggml_fit(w, t);
  at::Tensor out = ggml_fake_quant(w, p);
  if (params_out) *params_out = std::move(p);
  return out;
}

at::Tensor ggml_fake_quant_column(const at::Tensor& w_col, const GgmlParams& p, int64_t j) {
  const GgmlGridInfo g = ggml_grid_info(p.type);
  const at::Tensor scale = p.scale.narrow(1, j / g.slot, 1), offset = p.offset.narrow(1, j / g.slot, 1);
  const at::Tensor live = scale != 0;
  at::Tensor q = to_codes((w_col - offset) / at::where(live, scale, at::ones_like(scale)), p.type, g);
  q = at::where(live, q, at::zeros_like(q));
  at::Tensor x = q * scale;
  if (p.type == GgmlType::Q4_1 || p.type == GgmlType::Q5_1 || p.type == GgmlType::Q4_K) x = x + offset;
  return x;
}

GgmlParams ggml_cat(const std::vector<GgmlParams>& parts) {
  QUENCH_CHECK(!parts.empty(), "ggml_cat: nothing to concatenate");
  auto cat = [&](at::Tensor GgmlParams::*field) {
    std::vector<at::Tensor> ts;
    for (const auto& p : parts) ts.push_back(p.*field);
    return at::cat(ts, 1);
  };
  GgmlParams out;
  out.type = parts.front().type;
  out.scale = cat(&GgmlParams::scale);
  out.offset = cat(&GgmlParams::offset);
  out.d = cat(&GgmlParams::d);
  out.dmin = cat(&GgmlParams::dmin);
  if (is_k(out.type)) {
    out.sc = cat(&GgmlParams::sc);
    out.mn = cat(&GgmlParams::mn);
  }
  if (out.type == GgmlType::NVFP4) {
    out.global = parts.front().global;
    for (const auto& p : parts)
      QUENCH_CHECK(at::equal(p.global.cpu(), out.global.cpu()), "ggml_cat: NVFP4 parts fitted with different tensor scales");
  }
  return out;
}

GgmlBlocks ggml_blocks(const at::Tensor& w_in, const GgmlParams& p, const std::string& tensor) {
  const GgmlGridInfo g = ggml_grid_info(p.type);
  // The codes and the exactness check run where the weight is (an 8B model's on the GPU); only
  // the bytes the encoder needs come to the CPU.
  const at::Tensor w = w_in.to(at::kFloat).contiguous();
  GgmlParams cp = p;
  for (at::Tensor* t : {&cp.scale, &cp.offset, &cp.d, &cp.dmin, &cp.sc, &cp.mn, &cp.global})
    if (t->defined()) *t = t->to(w.device()).contiguous();
  const at::Tensor q = ggml_codes(w, cp);
  const at::Tensor back = ggml_dequant(q, cp);
  if (!at::equal(back, w)) {
    const auto diff = (back - w).abs();
    const int64_t where = diff.reshape({-1}).argmax().item<int64_t>();
    fail(tensor, ": the weight is not on its ", ggml_info(p.type).name, " grid (row ", where / w.size(1), ", column ", where % w.size(1),
         " differs by ", diff.max().item<double>(), "); was it changed after quantization?");
  }
  GgmlBlocks b;
  b.type = p.type;
  b.rows = w.size(0);
  b.cols = w.size(1);
  // Stored codes: the unsigned field of the block (Q8_0 keeps the int8 bit pattern; MXFP4 the
  // nibble of its E2M1 value: magnitude index, sign in bit 3).
  const int bias = p.type == GgmlType::Q8_0 ? 0 : -g.qmin;
  at::Tensor code;
  if (p.type == GgmlType::MXFP4 || p.type == GgmlType::NVFP4) {
    const at::Tensor nibble = at::tensor({15, 0, 0, 0, 14, 0, 13, 0, 12, 11, 10, 9, 0, 1, 2, 3, 4, 0, 5, 0, 6, 0, 0, 0, 7}, at::kByte);
    code = nibble.to(q.device()).index_select(0, (q + 12).reshape(-1).to(at::kLong)).cpu().contiguous();
  } else {
    code = (p.type == GgmlType::Q8_0 ? q.to(at::kChar).view(at::kByte) : (q + bias).to(at::kByte)).cpu().contiguous();
  }
  b.code.assign(code.data_ptr<uint8_t>(), code.data_ptr<uint8_t>() + code.numel());
  auto floats = [](const at::Tensor& t) {
    const at::Tensor c = t.to(at::kCPU, at::kFloat).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  auto bytes = [](const at::Tensor& t) {
    const at::Tensor c = t.to(at::kChar).view(at::kByte).cpu().contiguous();
    return std::vector<uint8_t>(c.data_ptr<uint8_t>(), c.data_ptr<uint8_t>() + c.numel());
  };
  b.d = floats(cp.d);
  if (p.type == GgmlType::Q4_1 || p.type == GgmlType::Q5_1 || p.type == GgmlType::Q4_K) b.m = floats(cp.dmin);
  if (is_k(p.type)) {
    b.sc = bytes(cp.sc);
    if (p.type == GgmlType::Q4_K) b.mn = bytes(cp.mn);
  }
  return b;
}

}  // namespace quench::ops
