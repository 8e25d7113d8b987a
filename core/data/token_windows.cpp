#include "core/data/token_windows.h"

#include <algorithm>
#include <random>

#include "core/util/error.h"

namespace quench {

std::vector<EvalWindow> perplexity_windows(int64_t n, int64_t ctx, int64_t stride, int64_t max_windows) {
  QUENCH_CHECK(ctx > 0, "context length must be positive, got ", ctx);
  if (stride <= 0) stride = ctx + 1;
  QUENCH_CHECK(stride <= ctx + 1, "stride ", stride, " is larger than the window (", ctx + 1,
               " tokens): tokens between windows would never be scored");
  QUENCH_CHECK(n >= 2, "the text has ", n, " tokens; at least 2 are needed to score one prediction");
  std::vector<EvalWindow> out;
  int64_t scored_until = 0;  // stream index of the last target scored so far
  for (int64_t begin = 0; begin + 1 < n; begin += stride) {
    EvalWindow w;
    w.begin = begin;
    w.length = std::min(ctx + 1, n - begin);
    // The non-overlapping protocol scores only full windows (the published numbers do).
    if (stride == ctx + 1 && w.length < ctx + 1) break;
    const int64_t last_target = begin + w.length - 1;
    if (last_target <= scored_until && begin > 0) continue;
    w.score_from = begin == 0 ? 0 : std::max<int64_t>(0, scored_until - begin);
    scored_until = last_target;
    out.push_back(w);
    if (max_windows > 0 && static_cast<int64_t>(out.size()) >= max_windows) break;
    if (begin + w.length >= n) break;
  }
  QUENCH_CHECK(!out.empty(), "the text has ", n, " tokens, fewer than one window of ", ctx + 1);
  return out;
}

at::Tensor sample_windows(const at::Tensor& ids, int64_t count, int64_t length, bool random, uint64_t seed) {
  const int64_t n = ids.numel();
  QUENCH_CHECK(count > 0 && length > 0, "need a positive sample count and length, got ", count, " × ", length);
  QUENCH_CHECK(n >= length, "the text has ", n, " tokens, fewer than one sample of ", length);
  auto flat = ids.reshape({-1}).to(at::kLong);
  std::vector<at::Tensor> rows;
  if (random) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int64_t> pick(0, n - length);
    for (int64_t i = 0; i < count; ++i) rows.push_back(flat.narrow(0, pick(rng), length));
  } else {
    QUENCH_CHECK(count * length <= n, "the text has ", n, " tokens, fewer than ", count, " consecutive samples of ",
                 length, " (use random sampling or fewer samples)");
    for (int64_t i = 0; i < count; ++i) rows.push_back(flat.narrow(0, i * length, length));
  }
  return at::stack(rows);
}

}  // namespace quench
