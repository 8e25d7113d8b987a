// Measures a calibration of all points of a text model on random token windows: wall time of a
// plain forward pass over the same data (the floor), of the calibration, of the weight pass, and
// the process's peak RSS. Not a test: numbers go to docs and reports.
//   quench_bench_calibrate MODEL_DIR [--samples 128] [--seq 256] [--batch 8] [--points '*'] [--threads N]
//                          [--device cuda] [--stats kernel|torch|both]
// --stats both (on CUDA): the calibration with the channel-statistics kernel and with libtorch's
// reductions in the same run, alternating kernel, torch, kernel, torch, with their results compared.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen.h on libtorch 2.x)

#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "core/util/error.h"

namespace {

using Clock = std::chrono::steady_clock;

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// User + system CPU seconds of the process: on a shared machine wall time says more about the
// neighbours than about us.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help")) {
    std::cerr << "usage: quench_bench_calibrate MODEL_DIR [--samples N] [--seq T] [--batch B] [--points GLOBS] [--threads N] "
                 "[--device D] [--stats kernel|torch|both]\n";
    return 2;
  }
  int64_t samples = 128, seq = 256, batch = 8;
  std::string points = "*", device = "cpu", stats = "kernel";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--samples") samples = std::stoll(v);
    else if (k == "--seq") seq = std::stoll(v);
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--points") points = v;
    else if (k == "--threads") at::set_num_threads(std::stoi(v));
    else if (k == "--device") device = v;
    else if (k == "--stats") stats = v;
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  try {
    quench::LoadOptions lo;
    lo.device = quench::parse_device(device);
    auto model = quench::load_model(argv[1], lo);
    const int64_t vocab = model->config().get_int("vocab_size");
    auto source = [&](uint64_t seed) {
      return [=, left = samples, n = seed]() mutable -> std::optional<quench::ModelInputs> {
        if (left <= 0) return std::nullopt;
        const int64_t b = std::min(batch, left);
        left -= b;
        at::manual_seed(n++);
        quench::ModelInputs in;
        in.input_ids = at::randint(0, vocab, {b, seq}, at::kLong).to(lo.device);
        return in;
      };
    };
    std::printf("model %s on %s, %lld × %lld tokens in batches of %lld, %d threads, points '%s'\n", argv[1], device.c_str(),
                (long long)samples, (long long)seq, (long long)batch, at::get_num_threads(), points.c_str());
    std::printf("after load: peak RSS %.0f MiB\n", peak_rss_mib());

    {
      at::NoGradGuard ng;
      auto src = source(1);
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      at::Tensor last;
      while (auto in = src()) last = model->forward(*in).logits;
      if (last.defined()) (void)last.sum().item<double>();  // waits for the device
      std::printf("forward only:       wall %7.2f s  cpu %7.2f s   peak RSS %.0f MiB\n", since(t0), cpu_seconds() - c0, peak_rss_mib());
    }

    std::vector<bool> modes;  // StatsOptions::kernels per run
    if (stats == "kernel") modes = {true};
    else if (stats == "torch") modes = {false};
    else if (stats == "both") modes = {true, false, true, false};
    else throw quench::UsageError("--stats must be kernel, torch or both, got " + stats);
    std::vector<quench::CalibrationResult> results;
    for (bool kern : modes) {
      quench::CalibrationOptions opts;
      opts.points = points;
      opts.expected_samples = samples;
      opts.weights = false;
      opts.stats_kernels = kern;
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      results.push_back(quench::calibrate(*model, source(1), opts));
      const auto& r = results.back();
      std::printf("calibration (%s): wall %7.2f s  cpu %7.2f s   %zu points, %lld batches, statistics + scratch hold %.1f MiB, peak RSS %.0f MiB\n",
                  kern ? "kernel" : "torch ", since(t0), cpu_seconds() - c0, r.points.size(), (long long)r.batches,
                  static_cast<double>(r.observer_bytes) / (1 << 20), peak_rss_mib());
    }
    if (results.size() > 1) {  // the two paths on the same activations: worst relative differences over all points
      double d_std = 0, d_kurt = 0, d_absmax = 0, d_p999 = 0;
      for (size_t i = 0; i < results[0].points.size(); ++i) {
        const auto &a = results[0].points[i].all, &b = results[1].points[i].all;
        auto rd = [](double x, double y) { return std::abs(x - y) / std::max(std::abs(y), 1e-30); };
        d_std = std::max(d_std, rd(a.std, b.std));
        d_kurt = std::max(d_kurt, rd(a.kurtosis, b.kurtosis));
        d_absmax = std::max(d_absmax, rd(a.absmax, b.absmax));
        d_p999 = std::max(d_p999, std::abs(a.percentiles.p99_9 - b.percentiles.p99_9) / std::max(b.histogram.bin_width(), 1e-30));
      }
      std::printf("kernel vs torch, worst over points: std %.2e, kurtosis %.2e, absmax %.2e (relative); p99.9 %.2f bin widths\n", d_std,
                  d_kurt, d_absmax, d_p999);
    }
    const auto& r = results.back();

    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    std::vector<quench::WeightStats> ws;
    for (const auto& l : model->layers()) ws.push_back(quench::weight_stats(*l));
    std::printf("weight statistics:  wall %7.2f s  cpu %7.2f s   %zu layers\n", since(t0), cpu_seconds() - c0, ws.size());
    for (const auto& warn : r.warnings) std::printf("warning: %s\n", warn.c_str());
    std::printf("final peak RSS %.0f MiB\n", peak_rss_mib());
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
