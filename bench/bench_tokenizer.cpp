// Tokenizer throughput on one core: encodes a text file with a tokenizer.json and prints
// MB/s and tokens/s (best of --repeat runs; the first run also fills the word cache, as a
// real run over a file does, so every run starts from an empty cache on a fresh thread).
//
//   bench_tokenizer TEXT [TOKENIZER_JSON | MODEL_DIR] [--repeat N]
// The tokenizer defaults to the bundled sotu-llama one. Besides wall time it reports the
// thread's CPU time, which stays meaningful on a machine shared with other work.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/text/tokenizer.h"

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> pos;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else pos.push_back(a);
  }
  if (pos.empty() || pos.size() > 2) {
    std::fprintf(stderr, "usage: bench_tokenizer TEXT [TOKENIZER_JSON | MODEL_DIR] [--repeat N]\n");
    return 2;
  }
  const std::string tok_path = pos.size() > 1 ? pos[1] : std::string(QUENCH_DEMO) + "/sotu-llama/tokenizer.json";
  try {
    std::ifstream in(pos[0], std::ios::binary);
    if (!in) throw std::runtime_error(pos[0] + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_seconds();
    const bool is_json = tok_path.size() > 5 && tok_path.compare(tok_path.size() - 5, 5, ".json") == 0;
    const quench::Tokenizer tok = is_json ? quench::Tokenizer::from_file(tok_path) : quench::Tokenizer::from_model_dir(tok_path);
    const double load_s = seconds_since(t0), load_cpu = thread_cpu_seconds() - c0;

    double best = 1e30, best_cpu = 1e30;
    size_t n_tokens = 0;
    for (int r = 0; r < repeat; ++r) {
      // A fresh thread per run: the BPE word cache is per thread, so each run starts cold.
      std::thread th([&] {
        const auto t = std::chrono::steady_clock::now();
        const double c = thread_cpu_seconds();
        n_tokens = tok.encode(text).size();
        best_cpu = std::min(best_cpu, thread_cpu_seconds() - c);
        best = std::min(best, seconds_since(t));
      });
      th.join();
    }
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("tokenizer   %s (%lld tokens)\n", tok_path.c_str(), static_cast<long long>(tok.vocab_size()));
    std::printf("load        %.3f s wall, %.3f s CPU\n", load_s, load_cpu);
    std::printf("text        %s (%.2f MB)\n", pos[0].c_str(), mb);
    std::printf("tokens      %zu\n", n_tokens);
    std::printf("time        %.3f s wall, %.3f s CPU (best of %d, one thread)\n", best, best_cpu, repeat);
    std::printf("throughput  %.1f MB/s, %.2f M tokens/s (wall)\n", mb / best, static_cast<double>(n_tokens) / best / 1e6);
    std::printf("throughput  %.1f MB/s, %.2f M tokens/s (CPU time)\n", mb / best_cpu, static_cast<double>(n_tokens) / best_cpu / 1e6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
