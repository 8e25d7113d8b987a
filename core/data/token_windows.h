#pragma once
// Cutting a token stream into model inputs: perplexity windows (the protocol of the shared
// models' cards: non-overlapping windows of ctx+1 tokens, first N scored; or sliding windows with
// a stride) and calibration samples (N windows of T tokens, random with a seed or the first N).
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace quench {

struct EvalWindow {
  int64_t begin = 0;     // first token of the window in the stream
  int64_t length = 0;    // tokens in the window (inputs + 1 for the last target)
  int64_t score_from = 0;  // predictions for targets at window offsets ≥ this are scored
};

// ctx: inputs per window; stride: distance between window starts (0 → ctx + 1, non-overlapping,
// every target scored once); max_windows: 0 = all. With stride ≤ ctx, each window scores only the
// targets the previous one did not reach, so every token is scored exactly once.
std::vector<EvalWindow> perplexity_windows(int64_t stream_length, int64_t ctx, int64_t stride, int64_t max_windows);

// N windows of T tokens: random starts (seeded, reproducible) or consecutive from the start.
at::Tensor sample_windows(const at::Tensor& ids, int64_t count, int64_t length, bool random, uint64_t seed);  // I64 [N, T]

}  // namespace quench
