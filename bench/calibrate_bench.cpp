// Measures a calibration of all points of a text model on random token windows: wall time of a
// plain forward pass over the same data (the floor), of the calibration, of the weight pass, and
// the process's peak RSS. Not a test: numbers go to docs and reports.
//   quench_bench_calibrate MODEL_DIR [--samples 128] [--seq 256] [--batch 8] [--points '*'] [--threads N]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include <ATen/Parallel.h>

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
    std::cerr << "usage: quench_bench_calibrate MODEL_DIR [--samples N] [--seq T] [--batch B] [--points GLOBS] [--threads N]\n";
    return 2;
  }
  int64_t samples = 128, seq = 256, batch = 8;
  std::string points = "*";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--samples") samples = std::stoll(v);
    else if (k == "--seq") seq = std::stoll(v);
    else if (k == "--batch") batch = std::stoll(v);
    else if (k == "--points") points = v;
    else if (k == "--threads") at::set_num_threads(std::stoi(v));
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  try {
    auto model = quench::load_model(argv[1]);
    const int64_t vocab = model->config().get_int("vocab_size");
    auto source = [&](uint64_t seed) {
      return [=, left = samples, n = seed]() mutable -> std::optional<quench::ModelInputs> {
        if (left <= 0) return std::nullopt;
        const int64_t b = std::min(batch, left);
        left -= b;
        at::manual_seed(n++);
        quench::ModelInputs in;
        in.input_ids = at::randint(0, vocab, {b, seq}, at::kLong);
        return in;
      };
    };
    std::printf("model %s, %lld × %lld tokens in batches of %lld, %d threads, points '%s'\n", argv[1], (long long)samples,
                (long long)seq, (long long)batch, at::get_num_threads(), points.c_str());
    std::printf("after load: peak RSS %.0f MiB\n", peak_rss_mib());

    {
      at::NoGradGuard ng;
      auto src = source(1);
      const auto t0 = Clock::now();
      const double c0 = cpu_seconds();
      while (auto in = src()) model->forward(*in);
      std::printf("forward only:       wall %7.2f s  cpu %7.2f s   peak RSS %.0f MiB\n", since(t0), cpu_seconds() - c0, peak_rss_mib());
    }

    quench::CalibrationOptions opts;
    opts.points = points;
    opts.expected_samples = samples;
    opts.weights = false;
    auto t0 = Clock::now();
    double c0 = cpu_seconds();
    const auto r = quench::calibrate(*model, source(1), opts);
    std::printf("calibration:        wall %7.2f s  cpu %7.2f s   %zu points, %lld batches, statistics + scratch hold %.1f MiB, peak RSS %.0f MiB\n",
                since(t0), cpu_seconds() - c0, r.points.size(), (long long)r.batches, static_cast<double>(r.observer_bytes) / (1 << 20),
                peak_rss_mib());

    t0 = Clock::now();
    c0 = cpu_seconds();
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
