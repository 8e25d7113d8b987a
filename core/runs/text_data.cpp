#include "core/runs/text_data.h"

#include <vector>

#include "core/data/text_source.h"
#include "core/data/token_windows.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"

namespace quench {

at::Tensor text_token_ids(const std::string& model_dir, const std::string& path) {
  auto tok = Tokenizer::from_model_dir(model_dir);
  auto src = read_text_source(path);
  auto ids = tok.encode(src.text);
  return at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong);
}

CalibrationSet calibration_windows(const at::Tensor& ids, int64_t samples, int64_t seq, uint64_t seed, const std::string& path) {
  QUENCH_CHECK(samples > 0 && seq > 0, path, ": calibration needs a positive number of windows and tokens per window");
  QUENCH_CHECK(ids.numel() > seq, path, ": ", ids.numel(), " tokens, fewer than one window of --seq ", seq);
  return CalibrationSet::from_token_windows(sample_windows(ids, samples, seq, true, seed));
}

CalibrationSet evaluation_windows(const at::Tensor& ids, int64_t ctx, int64_t max, const std::string& path) {
  const int64_t L = ctx + 1, n = ids.numel() / L;
  int64_t want = max > 0 ? max : n;
  if (want > n) want = n;
  QUENCH_CHECK(want > 0, path, ": fewer tokens than one window of --ctx ", ctx);
  return CalibrationSet::from_token_windows(sample_windows(ids, want, L, false, 0), 8);
}

}  // namespace quench
