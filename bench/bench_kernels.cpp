// Kernel benchmark: for each quench_kernels op, checks the result against the equivalent libtorch
// code in the same run, then times both with CUDA events (warm-up, median of repeats, inputs
// rotated between two sets so no run is served from L2) and prints time, ratio and achieved
// bandwidth (bytes read + written once / time) next to a device-to-device copy measured here.
// Exit code 1 if any check fails. Results go to bench/RESULTS.md by hand.
#include <ATen/ATen.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "core/compress/rtn.h"
#include "core/nn/functional.h"
#include "core/nn/packed_linear.h"
#include "core/nn/scan.h"
#include "core/ops/channel_stats.h"
#include "core/ops/fake_quant.h"
#include "core/ops/hadamard.h"

namespace {

using namespace quench;

int g_failures = 0;
double g_copy_tbps = 0;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

// Median milliseconds of fn(rep) over `reps` runs after `warmup` runs; each run timed with its own
// pair of events on the default stream (the stream libtorch and the kernels use here).
double time_ms(const std::function<void(int)>& fn, int warmup = 3, int reps = 20) {
  for (int i = 0; i < warmup; ++i) fn(i);
  cuda_ok(cudaDeviceSynchronize(), "warm-up");
  std::vector<cudaEvent_t> ev(2 * reps);
  for (auto& e : ev) cuda_ok(cudaEventCreate(&e), "event");
  for (int r = 0; r < reps; ++r) {
    cuda_ok(cudaEventRecord(ev[2 * r], nullptr), "record");
    fn(r);
    cuda_ok(cudaEventRecord(ev[2 * r + 1], nullptr), "record");
  }
  cuda_ok(cudaDeviceSynchronize(), "timing");
  std::vector<double> ms(reps);
  for (int r = 0; r < reps; ++r) {
    float t = 0;
    cuda_ok(cudaEventElapsedTime(&t, ev[2 * r], ev[2 * r + 1]), "elapsed");
    ms[r] = t;
  }
  for (auto& e : ev) cudaEventDestroy(e);
  std::sort(ms.begin(), ms.end());
  return ms[reps / 2];
}

void check(bool ok, const std::string& what, const std::string& detail) {
  std::printf("  check %-58s %s  %s\n", what.c_str(), ok ? "ok  " : "FAIL", detail.c_str());
  if (!ok) ++g_failures;
}

double rel_fro(const at::Tensor& a, const at::Tensor& b) {
  auto ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  return (ad - bd).norm().item<double>() / std::max(bd.norm().item<double>(), 1e-300);
}

// One result line: kernel vs libtorch.
void report(const std::string& name, double bytes, double ms_kernel, double ms_torch) {
  const double tbps = bytes / (ms_kernel * 1e-3) / 1e12;
  std::printf("%-52s %9.4f ms  torch %9.4f ms  x%7.2f  %5.2f TB/s  %5.1f%% of copy\n", name.c_str(), ms_kernel, ms_torch,
              ms_torch / ms_kernel, tbps, g_copy_tbps > 0 ? 100.0 * tbps / g_copy_tbps : 0.0);
  std::fflush(stdout);
}

at::TensorOptions dev(at::ScalarType t) { return at::TensorOptions().device(at::kCUDA).dtype(t); }

void bench_copy() {
  const int64_t n = int64_t{1} << 29;  // 1 GiB of fp16
  auto src = at::randn({n}, dev(at::kHalf)), dst = at::empty_like(src);
  const double ms = time_ms([&](int) { dst.copy_(src); }, 3, 20);
  g_copy_tbps = 2.0 * n * 2 / (ms * 1e-3) / 1e12;
  std::printf("%-52s %9.4f ms  %5.2f TB/s (read + write)\n", "device-to-device copy, 1 GiB", ms, g_copy_tbps);
}

void bench_channel_stats(at::ScalarType dt, int64_t R, int64_t C) {
  const std::string tag = std::string("channel_stats ") + at::toString(dt) + " [" + std::to_string(R) + ", " + std::to_string(C) + "]";
  std::printf("\n%s (%.0f MiB)\n", tag.c_str(), R * C * at::elementSize(dt) / 1048576.0);
  std::vector<at::Tensor> xs{(at::randn({R, C}, dev(at::kFloat)) * 2 + 0.1).to(dt), (at::randn({R, C}, dev(at::kFloat)) * 2).to(dt)};
  ops::ChannelStatsOptions opt;
  opt.bins = 2048;
  opt.hist_range = 6.0;
  {
    auto st = ops::channel_stats(xs[0], opt);
    auto xf = xs[0].to(at::kFloat);
    check(at::equal(st.absmax, xf.abs().amax(0)) && at::equal(st.min, xf.amin(0)) && at::equal(st.max, xf.amax(0)),
          tag + " absmax/min/max", "exact");
    const double es = rel_fro(st.sum, xf.to(at::kDouble).sum(0)), eq = rel_fro(st.sumsq, (xf.to(at::kDouble) * xf.to(at::kDouble)).sum(0));
    check(es < 1e-5 && eq < 1e-6, tag + " sum/sumsq vs float64", "rel " + std::to_string(es) + " / " + std::to_string(eq));
    // floor(fma(x, scale, bins/2)): the float32 product is exact in double, one rounding after.
    const float sc = static_cast<float>(opt.bins / (2 * opt.hist_range));
    auto pos = (xf.to(at::kDouble) * static_cast<double>(sc) + static_cast<double>(opt.bins / 2)).to(at::kFloat);
    auto idx = pos.clamp(0.0, static_cast<double>(opt.bins - 1)).to(at::kLong).flatten();
    check(at::equal(st.histogram, at::bincount(idx, {}, opt.bins)), tag + " histogram", "exact counts");
  }
  const double bytes = static_cast<double>(R) * C * at::elementSize(dt);
  ops::ChannelStatsOptions nohist;
  const double t_plain = time_ms([&](int r) { ops::channel_stats(xs[r % 2], nohist); });
  const double t_torch_plain = time_ms([&](int r) {
    auto x = xs[r % 2];
    (void)x.abs().amax(0), (void)x.amin(0), (void)x.amax(0), (void)x.sum(0, false, at::kFloat), (void)(x * x).sum(0, false, at::kFloat);
  });
  report(tag + " stats", bytes, t_plain, t_torch_plain);
  const double t_hist = time_ms([&](int r) { ops::channel_stats(xs[r % 2], opt); });
  const double t_torch_hist = time_ms([&](int r) {
    auto x = xs[r % 2];
    (void)x.abs().amax(0), (void)x.amin(0), (void)x.amax(0), (void)x.sum(0, false, at::kFloat), (void)(x * x).sum(0, false, at::kFloat);
    (void)at::histc(x.to(at::kFloat), opt.bins, -opt.hist_range, opt.hist_range);
  });
  report(tag + " stats + 2048-bin histogram", bytes, t_hist, t_torch_hist);
  // Activation-like values: peaked at 0, heavy tails, and the range set by the largest |x| as a
  // calibration sets it, so most values crowd into the few bins around 0.
  std::vector<at::Tensor> ps;
  for (int k = 0; k < 2; ++k)
    ps.push_back((at::randn({R, C}, dev(at::kFloat)) * at::randn({R, C}, dev(at::kFloat)).abs() * 0.5).to(dt));
  ops::ChannelStatsOptions peaked = opt;
  peaked.hist_range = std::max(ps[0].abs().max().item<double>(), ps[1].abs().max().item<double>());
  {
    auto st = ops::channel_stats(ps[0], peaked);
    auto xf = ps[0].to(at::kFloat);
    const float sc = static_cast<float>(peaked.bins / (2 * peaked.hist_range));
    auto pos = (xf.to(at::kDouble) * static_cast<double>(sc) + static_cast<double>(peaked.bins / 2)).to(at::kFloat);
    auto idx = pos.clamp(0.0, static_cast<double>(peaked.bins - 1)).to(at::kLong).flatten();
    const auto want = at::bincount(idx, {}, peaked.bins);
    const double central = want.narrow(0, peaked.bins / 2 - 8, 16).sum().item<double>() / static_cast<double>(R * C);
    check(at::equal(st.histogram, want), tag + " peaked histogram", "exact counts; " + std::to_string(central * 100) + "% in the central 16 bins");
  }
  const double t_peak = time_ms([&](int r) { ops::channel_stats(ps[r % 2], peaked); });
  const double t_torch_peak = time_ms([&](int r) {
    auto x = ps[r % 2];
    (void)x.abs().amax(0), (void)x.amin(0), (void)x.amax(0), (void)x.sum(0, false, at::kFloat), (void)(x * x).sum(0, false, at::kFloat);
    (void)at::histc(x.to(at::kFloat), peaked.bins, -peaked.hist_range, peaked.hist_range);
  });
  report(tag + " stats + histogram, activation-like (peaked)", bytes, t_peak, t_torch_peak);
  // Calibration's form: power sums to the fourth around a shift, and each row's absmax, with the
  // histogram of the peaked data.
  ops::ChannelStatsOptions calib = peaked;
  calib.higher = true;
  calib.row_absmax = true;
  calib.shift = ps[0].to(at::kFloat).mean(0);
  const double t_calib = time_ms([&](int r) { ops::channel_stats(ps[r % 2], calib); });
  report(tag + " calibration form (M1-M4 shifted, row absmax, histogram), peaked", bytes, t_calib, t_torch_peak);
}

// libtorch's version of the same formulas (float32 math, like the kernels).
at::Tensor torch_fake_sym_rows(const at::Tensor& x, int bits) {
  const double qmax = (1 << (bits - 1)) - 1;
  auto xf = x.to(at::kFloat);
  auto s = xf.abs().amax(-1, true) / qmax;
  s = at::where(s > 0, s, at::ones_like(s));
  return (at::clamp(at::round(xf / s), -qmax - 1, qmax) * s).to(x.scalar_type());
}

at::Tensor torch_fake_asym_groups(const at::Tensor& x, int bits, int64_t g) {
  const double qmax = (1 << bits) - 1;
  auto xf = x.to(at::kFloat).reshape({-1, g});
  auto mn = at::clamp_max(xf.amin(-1, true), 0), mx = at::clamp_min(xf.amax(-1, true), 0);
  auto s = (mx - mn) / qmax;
  s = at::where(s > 0, s, at::ones_like(s));
  auto z = at::clamp(at::round(-mn / s), 0, qmax);
  return ((at::clamp(at::round(xf / s) + z, 0, qmax) - z) * s).view(x.sizes()).to(x.scalar_type());
}

void bench_fake_quant(at::ScalarType dt, int64_t R, int64_t C) {
  const std::string shape = std::string(at::toString(dt)) + " [" + std::to_string(R) + ", " + std::to_string(C) + "]";
  std::printf("\nfake-quant %s (%.0f MiB)\n", shape.c_str(), R * C * at::elementSize(dt) / 1048576.0);
  std::vector<at::Tensor> xs{at::randn({R, C}, dev(at::kFloat)).to(dt), (at::randn({R, C}, dev(at::kFloat)) * 3).to(dt)};
  const double esz = at::elementSize(dt), rw = 2.0 * R * C * esz;
  // The two computations differ only where libtorch turns a division by a scalar into a
  // multiplication: count elements more than one quantization step apart, which must be none.
  // (plus the rounding of both results to the output dtype: 2^-8 relative for bfloat16).
  const double out_eps = dt == at::kBFloat16 ? 1.0 / 128 : dt == at::kHalf ? 1.0 / 1024 : 1e-6;
  auto steps_apart = [out_eps](const at::Tensor& a, const at::Tensor& b, const at::Tensor& step) {
    auto af = a.to(at::kFloat), bf = b.to(at::kFloat);
    return ((af - bf).abs() > step * 1.01 + bf.abs() * out_eps).sum().item<int64_t>();
  };
  {  // dynamic per-token, symmetric int8
    ops::QuantParams p;
    auto ours = ops::fake_quant(xs[0], [] { ops::QuantSpec s; s.bits = 8; s.granularity = ops::Granularity::Row; return s; }(), &p);
    auto theirs = torch_fake_sym_rows(xs[0], 8);
    const double frac = (ours != theirs).sum().item<double>() / ours.numel();
    const int64_t far = steps_apart(ours, theirs, p.scale.view({R, 1}).expand({R, C}));
    check(far == 0 && frac < 1e-3, "per-token int8 " + shape, "differ in " + std::to_string(frac * 100) + "% of elements, >1 step: " + std::to_string(far));
    const double tk = time_ms([&](int r) { ops::fake_quant_per_token(xs[r % 2], 8); });
    const double tt = time_ms([&](int r) { torch_fake_sym_rows(xs[r % 2], 8); });
    report("fake-quant per-token sym int8 (dynamic) " + shape, rw, tk, tt);
  }
  {  // per-group 128, asymmetric int4, computed
    ops::QuantSpec s;
    s.bits = 4;
    s.symmetric = false;
    s.granularity = ops::Granularity::Group;
    s.group_size = 128;
    ops::QuantParams p;
    auto ours = ops::fake_quant(xs[0], s, &p);
    auto theirs = torch_fake_asym_groups(xs[0], 4, 128);
    const double frac = (ours != theirs).sum().item<double>() / ours.numel();
    auto step = p.scale.unsqueeze(-1).expand({R, C / 128, 128}).reshape({R, C});
    const int64_t far = steps_apart(ours, theirs, step);
    check(far == 0 && frac < 1e-3, "group-128 asym int4 " + shape, "differ in " + std::to_string(frac * 100) + "% of elements, >1 step: " + std::to_string(far));
    const double tk = time_ms([&](int r) { ops::fake_quant(xs[r % 2], s); });
    const double tt = time_ms([&](int r) { torch_fake_asym_groups(xs[r % 2], 4, 128); });
    report("fake-quant group-128 asym int4 (computed) " + shape, rw, tk, tt);
    const double tq = time_ms([&](int r) { ops::quantize(xs[r % 2], s); });
    report("quantize group-128 asym int4 → uint8 + scales " + shape, R * C * (esz + 1.0), tq, tt);
    auto q = ops::quantize(xs[0], p, s);
    const double td = time_ms([&](int) { ops::dequantize(q, p, s, dt); });
    report("dequantize group-128 uint8 → " + std::string(at::toString(dt)) + " (given)", R * C * (esz + 1.0), td, tt);
  }
  {  // per-channel (activation column), symmetric int8, given static scales
    ops::QuantSpec s;
    s.bits = 8;
    s.granularity = ops::Granularity::Column;
    auto p = ops::compute_qparams(xs[0], s);
    auto ours = ops::fake_quant(xs[0], p, s);
    auto sc = p.scale.view({1, C});
    auto torch_given = [&](const at::Tensor& x) { return (at::clamp(at::round(x.to(at::kFloat) / sc), -128, 127) * sc).to(dt); };
    auto theirs = torch_given(xs[0]);
    check(at::equal(ours, theirs), "per-channel static int8 " + shape, "exact (tensor divisor in both)");
    const double tk = time_ms([&](int r) { ops::fake_quant(xs[r % 2], p, s); });
    const double tt = time_ms([&](int r) { torch_given(xs[r % 2]); });
    report("fake-quant per-channel sym int8 (given scales) " + shape, rw, tk, tt);
    const double tc = time_ms([&](int r) { ops::fake_quant(xs[r % 2], s); });
    report("fake-quant per-channel sym int8 (computed: 2 passes) " + shape, rw, tc, tt);
  }
}

void bench_hadamard(at::ScalarType dt, int64_t R, int64_t n, bool check_matmul) {
  const std::string tag = std::string("hadamard ") + at::toString(dt) + " [" + std::to_string(R) + ", " + std::to_string(n) + "]";
  std::vector<at::Tensor> xs{at::randn({R, n}, dev(at::kFloat)).to(dt), at::randn({R, n}, dev(at::kFloat)).to(dt)};
  auto H = ops::hadamard_matrix(n, dt).to(at::kCUDA);
  auto Ht = H.t().contiguous();
  if (check_matmul) {
    auto ours = ops::hadamard_transform(xs[0]);
    auto truth = at::matmul(xs[0].to(at::kFloat), ops::hadamard_matrix(n, at::kFloat).to(at::kCUDA).t());
    const double e = rel_fro(ours, truth), eref = rel_fro(truth.to(dt), truth);  // output rounding alone
    check(e <= 2 * eref + 1e-5, tag + " vs float32 x·Hᵀ", "rel " + std::to_string(e) + " (rounding to dtype: " + std::to_string(eref) + ")");
  }
  const double tk = time_ms([&](int r) { ops::hadamard_transform(xs[r % 2]); });
  const double tt = time_ms([&](int r) { at::matmul(xs[r % 2], Ht); });
  report(tag + " vs dense matmul", 2.0 * R * n * at::elementSize(dt), tk, tt);
}

void bench_scan(int64_t Bn, int64_t L, int64_t Dn, int64_t N) {
  const std::string shape = "B" + std::to_string(Bn) + " L" + std::to_string(L) + " D" + std::to_string(Dn) + " N" + std::to_string(N);
  std::printf("\nselective scan %s\n", shape.c_str());
  auto A = -at::exp(at::randn({Dn, N}, dev(at::kFloat)) * 0.5);
  auto D = at::randn({Dn}, dev(at::kFloat));
  auto mk = [&](at::ScalarType t) {
    std::vector<at::Tensor> v{at::randn({Bn, L, Dn}, dev(at::kFloat)).to(t), at::softplus(at::randn({Bn, L, Dn}, dev(at::kFloat)) - 1).to(t),
                              at::randn({Bn, L, N}, dev(at::kFloat)).to(t), at::randn({Bn, L, N}, dev(at::kFloat)).to(t)};
    return v;
  };
  auto h = mk(at::kHalf);
  auto f = mk(at::kFloat);
  // The libtorch loop (2048 steps of ~8 launches each) is slow: one warm-up, three timed runs.
  at::Tensor y_loop;
  const double t_loop = time_ms([&](int) { y_loop = selective_scan_torch_loop(h[0], h[1], A, h[2], h[3], D); }, 1, 3);
  auto y16 = selective_scan(h[0], h[1], A, h[2], h[3], D);
  // Float32 output of the loop on the same fp16 inputs, so that the fp16 kernel's error can be set
  // against rounding that output to fp16.
  auto y_ref = selective_scan_torch_loop(h[0].to(at::kFloat), h[1].to(at::kFloat), A, h[2].to(at::kFloat), h[3].to(at::kFloat), D);
  const double e16 = rel_fro(y16, y_ref), eround = rel_fro(y_ref.to(at::kHalf), y_ref);
  check(e16 <= 4 * eround + 1e-4, "scan fp16 vs libtorch loop " + shape, "rel " + std::to_string(e16) + " (fp16 rounding " + std::to_string(eround) + ")");
  const double io16 = 3.0 * Bn * L * Dn * 2 + 2.0 * Bn * L * N * 2;
  const double t16 = time_ms([&](int) { selective_scan(h[0], h[1], A, h[2], h[3], D); }, 2, 10);
  report("scan fp16 " + shape + " vs libtorch loop", io16, t16, t_loop);
  const double t32 = time_ms([&](int) { selective_scan(f[0], f[1], A, f[2], f[3], D); }, 2, 10);
  report("scan fp32 " + shape + " vs libtorch loop (fp16 in)", 2 * io16, t32, t_loop);
  // Quamba: int8 inputs with static per-tensor scales, fp16 out.
  auto q = [](const at::Tensor& x, float s) { return at::clamp(at::round(x.to(at::kFloat) / s), -128, 127).to(at::kChar); };
  ScanInt8Scales sc{4.f / 127, 4.f / 127, 4.f / 127, 4.f / 127};
  auto qu = q(h[0], sc.u), qd = q(h[1], sc.delta), qb = q(h[2], sc.B), qc = q(h[3], sc.C);
  auto y8 = selective_scan_int8(qu, qd, A, qb, qc, D, sc);
  auto y8_ref = selective_scan(qu.to(at::kFloat) * sc.u, qd.to(at::kFloat) * sc.delta, A, qb.to(at::kFloat) * sc.B,
                               qc.to(at::kFloat) * sc.C, D);
  const double e8 = rel_fro(y8, y8_ref);
  check(e8 < 2e-3, "scan int8 vs fp32 scan of dequantized inputs " + shape, "rel " + std::to_string(e8));
  const double io8 = 2.0 * Bn * L * Dn + Bn * L * Dn * 2.0 + 2.0 * Bn * L * N;
  const double t8 = time_ms([&](int) { selective_scan_int8(qu, qd, A, qb, qc, D, sc); }, 2, 10);
  report("scan int8 (Quamba) → fp16 " + shape + " vs libtorch loop", io8, t8, t_loop);
  auto bias = at::randn({Dn}, dev(at::kFloat)) * 0.1;
  const double t8s = time_ms([&](int) { selective_scan_int8(qu, qd, A, qb, qc, D, sc, bias, true); }, 2, 10);
  report("scan int8 + dt bias + softplus → fp16 " + shape, io8, t8s, t_loop);
  std::printf("  int8 / fp16 time: %.3f (≤ 1 means the int8 scan is at least as fast)\n", t8 / t16);
  check(t8 <= t16 * 1.02, "int8 scan at least as fast as fp16 (2% noise margin)", "");
}

// W4A16 (kernels/w4a16.h through PackedInt4Linear) against cuBLAS (at::linear) on the same x and
// the same weights (the fake-quantized weight in the half type): int4 in groups of 128, symmetric.
// Up to 16 rows the kernel runs; beyond, the packed layer's dense path (dequantize, then cuBLAS).
// Three weight sets rotate so that no run reads its weights from L2 (50 MB).
void bench_w4a16(at::ScalarType dt, int64_t n, int64_t k, const std::vector<int64_t>& rows, const std::string& what) {
  Hooks hooks;
  std::vector<std::unique_ptr<Layer>> layers;
  std::vector<std::shared_ptr<PackedInt4Linear>> packed;
  WeightQuant wq;
  wq.bits = 4;
  wq.strategy = WeightStrategy::Group;
  wq.group_size = 128;
  for (int i = 0; i < 3; ++i) {
    auto l = std::make_unique<Layer>("w", LayerKind::Linear, at::randn({n, k}, dev(at::kFloat)), at::Tensor(), &hooks);
    RtnInfo info;
    l->set_weight(rtn_quantize(l->weight(), wq, &info));
    l->set_encoding(std::make_shared<WeightEncoding>(std::move(info.encoding)));
    TensorCache cache;
    l->to(at::kCUDA, dt, cache);
    packed.push_back(std::make_shared<PackedInt4Linear>(*l));
    layers.push_back(std::move(l));
  }
  const std::string type = dt == at::kHalf ? "fp16" : "bf16";
  for (const int64_t m : rows) {
    const at::Tensor x = at::randn({m, k}, dev(dt));
    const at::Tensor yk = packed[0]->forward(x), yt = at::linear(x, layers[0]->weight());
    const double err = rel_fro(yk, yt);
    const std::string name = "w4a16 g128 " + type + " " + what + " m=" + std::to_string(m) + (m <= 16 ? "" : " (dense path)");
    check(err < (dt == at::kHalf ? 3e-3 : 1e-2), name + " vs cuBLAS", "rel err " + std::to_string(err));
    const double tk = time_ms([&](int r) { packed[r % 3]->forward(x); }, 3, 30);
    const double tt = time_ms([&](int r) { at::linear(x, layers[r % 3]->weight()); }, 3, 30);
    const double bytes = static_cast<double>(packed[0]->bytes()) + 2.0 * m * (k + n);
    report(name + " vs cuBLAS " + type, bytes, tk, tt);
  }
}

// The chunked scan as it was first written (one einsum per step of the paper's listing, segsum
// materialized by masked cumsum): the reference the current ssd_scan_chunked is timed against.
// segsum(a)[..., i, j] = a[..., j+1] + … + a[..., i] for i ≥ j, −∞ above the diagonal: the log of
// the decay from step j to step i.
at::Tensor segsum(const at::Tensor& a) {
  const int64_t T = a.size(-1);
  const auto opts = at::TensorOptions().dtype(at::kBool).device(a.device());
  std::vector<int64_t> sizes = a.sizes().vec();
  sizes.push_back(T);
  const at::Tensor below = at::ones({T, T}, opts).tril(-1), on_or_below = at::ones({T, T}, opts).tril(0);
  const at::Tensor rep = a.unsqueeze(-1).expand(sizes).masked_fill(below.logical_not(), 0);
  return rep.cumsum(-2).masked_fill(on_or_below.logical_not(), -std::numeric_limits<float>::infinity());
}
at::Tensor ssd_scan_chunked_einsum(const at::Tensor& x_in, const at::Tensor& dt_in, const at::Tensor& A_in, const at::Tensor& B_in,
                            const at::Tensor& C_in, const at::Tensor& D_in, int64_t chunk) {
  const int64_t Bn = x_in.size(0), L = x_in.size(1), H = x_in.size(2), P = x_in.size(3);
  const int64_t G = B_in.size(2), N = B_in.size(3);
  QUENCH_CHECK(G > 0 && H % G == 0, "ssd_scan: ", H, " heads are not a multiple of ", G, " groups");
  QUENCH_CHECK(chunk > 0, "ssd_scan: chunk must be positive");
  const int64_t E = H / G, Q = std::min(chunk, std::max<int64_t>(L, 1)), c = (L + Q - 1) / Q, pad = c * Q - L;
  // Padded steps have dt = 0: no decay and no input, so they change no state; their outputs are cut.
  auto padded = [&](const at::Tensor& t) {
    at::Tensor f = t.to(at::kFloat);
    if (pad == 0) return f;
    std::vector<int64_t> sz = f.sizes().vec();
    sz[1] = pad;
    return at::cat({f, at::zeros(sz, f.options())}, 1);
  };
  const at::Tensor x = padded(x_in), dt = padded(dt_in), Bm = padded(B_in), C = padded(C_in);
  const at::Tensor A = A_in.to(at::kFloat);
  const at::Tensor X = (x * dt.unsqueeze(-1)).view({Bn, c, Q, G, E, P});            // discretized input
  const at::Tensor a = (dt * A).view({Bn, c, Q, G, E}).permute({0, 3, 4, 1, 2});     // [b, g, e, c, l]
  const at::Tensor Bc = Bm.view({Bn, c, Q, G, N}), Cc = C.view({Bn, c, Q, G, N});
  const at::Tensor a_cum = a.cumsum(-1);
  // 1. Within each chunk: y_l = Σ_{s ≤ l} (C_l · B_s) exp(a_{s+1} + … + a_l) X_s.
  const at::Tensor CB = at::einsum("bclgn,bcsgn->bgcls", {Cc, Bc});
  const at::Tensor W = CB.unsqueeze(2) * at::exp(segsum(a));  // [b, g, e, c, l, s]
  const at::Tensor y_diag = at::einsum("bgecls,bcsgep->bclgep", {W, X});
  // 2. Each chunk's final state from its own inputs.
  const at::Tensor to_end = at::exp(a_cum.narrow(-1, Q - 1, 1) - a_cum).permute({0, 3, 4, 1, 2}).unsqueeze(-1);  // [b, c, l, g, e, 1]
  const at::Tensor states = at::einsum("bclgn,bclgep->bcgepn", {Bc, X * to_end});
  // 3. Across chunks: the state entering each chunk, from the ones before it.
  const at::Tensor chunk_sums = at::constant_pad_nd(a_cum.select(-1, Q - 1), {1, 0});  // [b, g, e, c + 1]
  const at::Tensor carried = at::einsum("bgezc,bcgepn->bzgepn",
                                        {at::exp(segsum(chunk_sums)), at::cat({at::zeros_like(states.narrow(1, 0, 1)), states}, 1)});
  const at::Tensor entering = carried.narrow(1, 0, c);  // [b, c, g, e, p, n]
  // 4. What the entering state adds to each output: C_l · state, decayed to step l.
  const at::Tensor from_start = at::exp(a_cum).permute({0, 3, 4, 1, 2}).unsqueeze(-1);  // [b, c, l, g, e, 1]
  const at::Tensor y_off = at::einsum("bclgn,bcgepn->bclgep", {Cc, entering}) * from_start;
  const at::Tensor y = (y_diag + y_off).reshape({Bn, c * Q, H, P}).narrow(1, 0, L);
  return y + x_in.to(at::kFloat) * D_in.to(at::kFloat).view({1, 1, H, 1});
}

// Where a Mamba-2 block's time goes at Mamba2-2.7B shapes (d_model 2560, 80 heads of 64, state
// 128, one group, conv 4) on `Bn` × `L` tokens in bf16: each op of the mixer as the model runs it
// (core/models/mamba2.cpp), timed alone, and the chunked scan at three chunk sizes. The block's
// share of an eval is its sum; 64 blocks make the model.
void bench_mamba2_block(int64_t Bn, int64_t L) {
  const int64_t d = 2560, di = 5120, H = 80, P = 64, N = 128, G = 1, conv_dim = di + 2 * G * N, K = 4;
  const int64_t rows = 2 * di + 2 * G * N + H;
  std::printf("\nMamba-2 block at 2.7B shapes, %lld x %lld tokens, bf16\n", static_cast<long long>(Bn), static_cast<long long>(L));
  const auto bf = dev(at::kBFloat16);
  const at::Tensor x = at::randn({Bn, L, d}, bf), w_in = at::randn({rows, d}, bf) * 0.02, w_out = at::randn({d, di}, bf) * 0.02;
  const at::Tensor w_conv = at::randn({conv_dim, 1, K}, bf) * 0.3, b_conv = at::randn({conv_dim}, bf) * 0.1;
  const at::Tensor dt_bias = at::randn({H}, dev(at::kFloat)) * 0.5 - 2, A = -at::exp(at::rand({H}, dev(at::kFloat)) * 2.5);
  const at::Tensor Dk = at::randn({H}, dev(at::kFloat)), gnorm = at::ones({di}, bf), norm = at::ones({d}, bf);
  // Each stage writes its own output and reads only earlier ones, so it can be repeated alone.
  at::Tensor proj, conv_out, xbc, dt, y, g;
  struct Stage {
    std::string name;
    std::function<void()> run;
  };
  std::vector<Stage> stages = {
      {"rms_norm (block input)", [&] { rms_norm(x, norm, 1e-5); }},
      {"in_proj (cuBLAS)", [&] { proj = at::linear(x, w_in); }},
      {"conv1d depthwise + narrow", [&] {
         conv_out = at::conv1d(proj.narrow(-1, di, conv_dim).transpose(1, 2), w_conv, b_conv, 1, K - 1, 1, conv_dim).narrow(2, 0, L);
       }},
      {"silu + transpose back", [&] { xbc = activation(conv_out, "silu").transpose(1, 2); }},
      {"softplus(dt + bias)", [&] { dt = at::softplus(proj.narrow(-1, rows - H, H).to(at::kFloat) + dt_bias); }},
      {"ssd_scan_chunked (64) + to bf16", [&] {
         const at::Tensor xs = xbc.narrow(-1, 0, di).reshape({Bn, L, H, P});
         const at::Tensor Bm = xbc.narrow(-1, di, G * N).reshape({Bn, L, G, N}), Cm = xbc.narrow(-1, di + G * N, G * N).reshape({Bn, L, G, N});
         y = ssd_scan_chunked(xs, dt, A, Bm, Cm, Dk, 64).reshape({Bn, L, di}).to(at::kBFloat16);
       }},
      {"gated_rms_norm", [&] { g = gated_rms_norm(y, proj.narrow(-1, 0, di), gnorm, 1e-5, di); }},
      {"out_proj (cuBLAS)", [&] { at::linear(g, w_out); }},
  };
  for (auto& s : stages) s.run();  // in order once, so each stage's inputs exist
  double total = 0;
  for (auto& s : stages) {
    const double ms = time_ms([&](int) { s.run(); }, 2, 10);
    total += ms;
    std::printf("  %-40s %9.3f ms\n", s.name.c_str(), ms);
  }
  const double tokens = static_cast<double>(Bn * L);
  std::printf("  %-40s %9.3f ms  (64 blocks: %.0f ms, %.0f tokens/s without embedding and head)\n", "block", total, 64 * total,
              tokens / (64 * total * 1e-3));
  const at::Tensor xs = xbc.narrow(-1, 0, di).reshape({Bn, L, H, P});
  const at::Tensor Bm = xbc.narrow(-1, di, G * N).reshape({Bn, L, G, N}), Cm = xbc.narrow(-1, di + G * N, G * N).reshape({Bn, L, G, N});
  const at::Tensor y64 = ssd_scan_chunked(xs, dt, A, Bm, Cm, Dk, 64);
  const at::Tensor y_ref = ssd_scan_chunked_einsum(xs, dt, A, Bm, Cm, Dk, 64);
  const double e = rel_fro(y64, y_ref);
  check(e < 1e-4, "ssd_scan_chunked vs the einsum formulation", "rel " + std::to_string(e));
  const double t_new = time_ms([&](int) { ssd_scan_chunked(xs, dt, A, Bm, Cm, Dk, 64); }, 2, 10);
  const double t_old = time_ms([&](int) { ssd_scan_chunked_einsum(xs, dt, A, Bm, Cm, Dk, 64); }, 2, 10);
  std::printf("  %-40s %9.3f ms  einsum formulation %9.3f ms  x%.2f\n", "ssd_scan_chunked (64)", t_new, t_old, t_old / t_new);
  for (int64_t q : {32, 128, 256}) {
    const double ms = time_ms([&](int) { ssd_scan_chunked(xs, dt, A, Bm, Cm, Dk, q); }, 2, 10);
    std::printf("  %-40s %9.3f ms  (rel. difference to chunk 64: %.2e)\n", ("ssd_scan_chunked (" + std::to_string(q) + ")").c_str(), ms,
                rel_fro(ssd_scan_chunked(xs, dt, A, Bm, Cm, Dk, q), y64));
  }
}

}  // namespace

// --stats: the copy and the channel-statistics lines only, twice (a run-to-run spread for one
// kernel's tries without spending device time on the rest). --w4a16: the copy and the W4A16 lines.
// --mamba2: the copy and the Mamba-2 block's stages.
int main(int argc, char** argv) {
  const bool stats_only = argc > 1 && std::string(argv[1]) == "--stats";
  const bool w4a16_only = argc > 1 && std::string(argv[1]) == "--w4a16";
  const bool mamba2_only = argc > 1 && std::string(argv[1]) == "--mamba2";
  if (!at::hasCUDA()) {
    std::printf("bench_kernels: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop{};
  cuda_ok(cudaGetDeviceProperties(&prop, 0), "properties");
  std::printf("device: %s, %d SMs, %.0f GiB\n", prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);
  at::manual_seed(0);
  bench_copy();
  if (mamba2_only) {
    bench_mamba2_block(8, 2048);  // issue 20's eval batch
    std::printf("\n%d check(s) failed\n", g_failures);
    return g_failures == 0 ? 0 : 1;
  }
  if (w4a16_only) {
    // The shapes: K = N = 8192 for M = 1…4096, and Llama-3-8B's projections at decoding sizes.
    const std::vector<int64_t> all = {1, 2, 4, 8, 16, 32, 128, 512, 2048, 4096}, decode = {1, 4, 16};
    bench_w4a16(at::kHalf, 8192, 8192, all, "8192x8192");
    bench_w4a16(at::kBFloat16, 8192, 8192, decode, "8192x8192");
    bench_w4a16(at::kBFloat16, 4096, 4096, decode, "q/o_proj 4096x4096");
    bench_w4a16(at::kBFloat16, 1024, 4096, decode, "k/v_proj 1024x4096");
    bench_w4a16(at::kBFloat16, 14336, 4096, decode, "gate/up 14336x4096");
    bench_w4a16(at::kBFloat16, 4096, 14336, decode, "down 4096x14336");
    std::printf("\n%d check(s) failed\n", g_failures);
    return g_failures == 0 ? 0 : 1;
  }
  bench_channel_stats(at::kHalf, 131072, 2048);
  bench_channel_stats(at::kFloat, 65536, 2048);
  bench_channel_stats(at::kBFloat16, 32768, 8192);
  if (stats_only) {
    bench_channel_stats(at::kHalf, 131072, 2048);
    bench_channel_stats(at::kFloat, 65536, 2048);
    bench_channel_stats(at::kBFloat16, 32768, 8192);
    std::printf("\n%d check(s) failed\n", g_failures);
    return g_failures == 0 ? 0 : 1;
  }
  bench_fake_quant(at::kHalf, 65536, 4096);
  bench_fake_quant(at::kBFloat16, 32768, 8192);
  std::printf("\n");
  bench_hadamard(at::kHalf, 16384, 4096, true);
  bench_hadamard(at::kHalf, 65536, 4096, false);
  bench_hadamard(at::kHalf, 32768, 2048, true);
  bench_hadamard(at::kBFloat16, 16384, 4096, true);
  bench_hadamard(at::kFloat, 16384, 4096, true);
  bench_hadamard(at::kHalf, 16384, 3072, true);   // 12·256
  bench_hadamard(at::kHalf, 16384, 5120, true);   // 20·256 (Mamba-2.8B d_inner)
  bench_hadamard(at::kHalf, 4096, 14336, true);   // 28·512 (Llama-3 FFN)
  bench_hadamard(at::kHalf, 8192, 8192, false);
  bench_hadamard(at::kHalf, 4096, 16384, false);
  bench_scan(8, 2048, 5120, 16);
  std::printf("\n%d check(s) failed\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
