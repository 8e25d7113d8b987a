// Weight statistics of a Llama-3.2-1B-shaped model (1.24 B parameters, random bf16 weights in
// memory), layer by layer as the window's statistics job computes them: Quench's fused CPU pass
// against the same statistics from libtorch's reductions (core/stats' generic path), in the same
// run, with the largest relative difference of their results. Not a test: numbers go to
// bench/RESULTS.md.
//   quench_bench_weight_stats [--layers 16] [--threads N] [--reference] [--only-reference]
#include <sys/resource.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/stats/weight_stats.h"

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

struct Shape {
  std::string name;
  int64_t out, in;
};

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max({std::abs(a[i]), std::abs(b[i]), 1e-12}));
  return a.size() == b.size() ? worst : INFINITY;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t layers = 16;
  bool reference = false, only_reference = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--layers" && i + 1 < argc) layers = std::stoll(argv[++i]);
    else if (a == "--threads" && i + 1 < argc) at::set_num_threads(std::stoi(argv[++i]));
    else if (a == "--reference") reference = true;
    else if (a == "--only-reference") only_reference = reference = true;
    else {
      std::fprintf(stderr, "usage: quench_bench_weight_stats [--layers 16] [--threads N] [--reference] [--only-reference]\n");
      return 2;
    }
  }
  // Llama-3.2-1B: hidden 2048, MLP 8192, 32 heads of 64, 8 KV heads, vocabulary 128256, tied head
  // (the window computes the head's statistics as a layer of its own).
  std::vector<Shape> shapes{{"model.embed_tokens", 128256, 2048}};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l);
    for (const auto& [n, o, i] : std::vector<std::tuple<const char*, int64_t, int64_t>>{
             {".self_attn.q_proj", 2048, 2048}, {".self_attn.k_proj", 512, 2048}, {".self_attn.v_proj", 512, 2048},
             {".self_attn.o_proj", 2048, 2048}, {".mlp.gate_proj", 8192, 2048}, {".mlp.up_proj", 8192, 2048},
             {".mlp.down_proj", 2048, 8192}})
      shapes.push_back({p + n, o, i});
  }
  shapes.push_back({"lm_head", 128256, 2048});

  at::manual_seed(0);
  int64_t params = 0;
  double fast_s = 0, ref_s = 0, worst = 0;
  at::Tensor embed;
  for (const Shape& s : shapes) {
    // The tied head reuses the embedding, as the model does; others are drawn one at a time.
    at::Tensor w = s.name == "lm_head" ? embed : (at::randn({s.out, s.in}) * 0.02).to(at::kBFloat16);
    if (s.name == "model.embed_tokens") embed = w;
    params += s.name == "lm_head" ? 0 : w.numel();
    quench::WeightStats a, b;
    if (!only_reference) {
      const auto t = Clock::now();
      a = quench::weight_stats(s.name, quench::LayerKind::Linear, w);
      fast_s += since(t);
    }
    if (reference) {
      const auto t = Clock::now();
      b = quench::weight_stats_reference(s.name, quench::LayerKind::Linear, w);
      ref_s += since(t);
    }
    if (reference && !only_reference)
      for (const auto& [x, y] : {std::pair{&a.out_std, &b.out_std}, {&a.in_std, &b.in_std}, {&a.out_absmax, &b.out_absmax},
                                 {&a.in_absmax, &b.in_absmax}})
        worst = std::max(worst, rel_diff(*x, *y));
  }
  std::printf("%zu layers, %.2f B parameters, %d threads\n", shapes.size(), params / 1e9, at::get_num_threads());
  if (!only_reference) std::printf("fused CPU pass:      %.1f s\n", fast_s);
  if (reference) std::printf("libtorch reductions: %.1f s%s\n", ref_s, only_reference ? "" : "");
  if (reference && !only_reference) std::printf("ratio %.2fx; largest relative difference of per-channel std/absmax %.2e\n", ref_s / fast_s, worst);
  std::printf("peak RSS %.0f MiB\n", peak_rss_mib());
  return 0;
}
