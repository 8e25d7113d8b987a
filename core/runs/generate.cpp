#include "core/runs/generate.h"

// at::NoGradGuard: ATen.h stopped including it in libtorch 2.x.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "core/text/unicode.h"
#include "core/util/error.h"

namespace quench {

namespace {

double since(std::chrono::steady_clock::time_point t0) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); }

// The next token from the last position's logits [vocab] (float32 on the CPU).
int64_t pick(const at::Tensor& logits, const GenerateOptions& o, at::Generator& gen) {
  if (o.temperature <= 0) return logits.argmax().item<int64_t>();
  at::Tensor l = logits / o.temperature;
  if (o.top_k > 0 && o.top_k < l.size(0)) {
    const at::Tensor kth = std::get<0>(l.topk(o.top_k)).min();
    l = l.masked_fill(l < kth, -std::numeric_limits<float>::infinity());
  }
  at::Tensor p = at::softmax(l, 0);
  if (o.top_p < 1.0) {
    auto [sorted, order] = p.sort(0, /*descending=*/true);
    // Keep a token while the probability before it is below top_p: the first always stays.
    const at::Tensor before = sorted.cumsum(0) - sorted;
    const at::Tensor drop = (before >= o.top_p).scatter(0, order, before >= o.top_p);
    p = p.masked_fill(drop, 0);
    p = p / p.sum();
  }
  return at::multinomial(p, 1, false, gen).item<int64_t>();
}

}  // namespace

double GenerateResult::prefill_tokens_per_second() const { return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0; }
double GenerateResult::decode_tokens_per_second() const {
  const double n = tokens.size() > 1 ? static_cast<double>(tokens.size() - 1) : 0;
  return decode_seconds > 0 ? n / decode_seconds : 0;
}

GenerateResult generate(Model& model, const at::Tensor& prompt, const GenerateOptions& opts, const std::function<void(int64_t)>& on_token) {
  QUENCH_CHECK(prompt.dim() == 2 && prompt.size(0) == 1 && prompt.size(1) > 0, "generate: the prompt must be [1, T] with T ≥ 1 tokens, got ",
               prompt.sizes());
  QUENCH_CHECK(opts.max_new_tokens >= 0, "generate: max_new_tokens must be ≥ 0");
  QUENCH_CHECK(opts.temperature >= 0 && opts.top_k >= 0 && opts.top_p > 0 && opts.top_p <= 1,
               "generate: temperature ≥ 0, top_k ≥ 0 and 0 < top_p ≤ 1 are required");
  QUENCH_CHECK(model.can_decode(), model.architecture(), ": generation needs a decoding cache, which this architecture does not have yet");
  model.check_context(prompt.size(1) + opts.max_new_tokens, "the prompt plus --max-new-tokens:");
  at::NoGradGuard ng;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(opts.seed);
  GenerateResult r;
  r.prompt_tokens = prompt.size(1);
  if (opts.max_new_tokens == 0) return r;
  Model::DecodeCache cache;
  auto t0 = std::chrono::steady_clock::now();
  at::Tensor logits = model.decode(prompt.to(at::kLong), cache);
  const at::Tensor first = logits[0][-1].to(at::kCPU, at::kFloat);
  QUENCH_CHECK(at::isfinite(first).all().item<bool>(), model.architecture(), ": non-finite logits after the prompt (the dtype overflowed); try float32");
  int64_t next = pick(first, opts, gen);
  r.prefill_seconds = since(t0);
  t0 = std::chrono::steady_clock::now();
  const at::Tensor step = at::empty({1, 1}, at::kLong);
  while (true) {
    r.tokens.push_back(next);
    if (on_token) on_token(next);
    if (std::find(opts.stop_ids.begin(), opts.stop_ids.end(), next) != opts.stop_ids.end()) {
      r.stopped = true;
      break;
    }
    if (static_cast<int64_t>(r.tokens.size()) >= opts.max_new_tokens) break;
    step.fill_(next);
    logits = model.decode(step, cache);
    const at::Tensor last = logits[0][-1].to(at::kCPU, at::kFloat);
    QUENCH_CHECK(at::isfinite(last).all().item<bool>(), model.architecture(), ": non-finite logits at generated token ", r.tokens.size(),
                 " (the dtype overflowed); try float32");
    next = pick(last, opts, gen);
  }
  r.decode_seconds = since(t0);
  return r;
}

SpeedResult measure_speed(Model& model, int64_t prompt_tokens, const std::vector<int64_t>& batches, int64_t steps, uint64_t seed) {
  QUENCH_CHECK(model.can_decode(), model.architecture(), ": speed is measured by decoding, and this architecture has no decoding cache yet");
  QUENCH_CHECK(prompt_tokens > 0 && steps > 0, "measure_speed: prompt_tokens and steps must be positive");
  model.check_context(prompt_tokens + steps, "a speed measurement of");
  at::NoGradGuard ng;
  const int64_t vocab = model.layers().front()->weight().size(0);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Greedy steps from a prefill; the host copy of each step's tokens waits for the device.
  auto run = [&](int64_t batch, int64_t prompt, int64_t n, double* prefill_s, int64_t* cache_bytes = nullptr) {
    Model::DecodeCache cache;
    const at::Tensor ids = at::randint(vocab, {batch, prompt}, gen, at::kLong);
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor next = model.decode(ids, cache).select(1, -1).argmax(-1).to(at::kCPU);
    if (prefill_s) *prefill_s = since(t0);
    t0 = std::chrono::steady_clock::now();
    for (int64_t k = 0; k < n; ++k) next = model.decode(next.unsqueeze(1), cache).select(1, -1).argmax(-1).to(at::kCPU);
    const double secs = since(t0);
    if (cache_bytes) *cache_bytes = cache.bytes();
    return secs;
  };
  for (const int64_t b : batches) QUENCH_CHECK(b > 0, "measure_speed: batch sizes must be positive");
  // Warm-up: the measured prefill's shape (its first run pays for the GEMM libraries' heuristics
  // and workspaces: a compressed model measured right after compressing read 5x slower), and a few
  // decoding steps at every batch size.
  run(1, prompt_tokens, 2, nullptr);
  for (const int64_t b : batches)
    if (b != 1) run(b, std::min<int64_t>(prompt_tokens, 8), 2, nullptr);
  SpeedResult r;
  double prefill = 0;
  run(1, prompt_tokens, 0, &prefill);
  r.prefill_tokens_per_second = prefill > 0 ? static_cast<double>(prompt_tokens) / prefill : 0;
  for (const int64_t b : batches) {
    const double secs = run(b, prompt_tokens, steps, nullptr, b == 1 ? &r.cache_bytes : nullptr);
    r.decode_tokens_per_second.emplace_back(b, secs > 0 ? static_cast<double>(b * steps) / secs : 0);
  }
  return r;
}

void check_generates(const Model& model, const std::string& where) {
  QUENCH_CHECK(model.modality() == Modality::Text, where, ": ", model.architecture(), " does not generate text");
  QUENCH_CHECK(model.can_decode(), where, ": ", model.architecture(),
               " has no decoding cache in Quench yet, so it cannot generate (text models can: Llama, Qwen2, Qwen3, Mistral, GPT-2, Mamba, Mamba-2)");
}

at::Tensor prompt_ids(const Model& model, const Tokenizer& tok, const std::string& text, const std::string& tokenizer_path) {
  const std::vector<int32_t> ids = tok.encode(text, /*add_special_tokens=*/true);
  QUENCH_CHECK(!ids.empty(), tokenizer_path, ": the prompt gives no tokens");
  const int64_t vocab = model.layers().front()->weight().size(0);
  for (const int32_t id : ids)
    QUENCH_CHECK(id >= 0 && id < vocab, tokenizer_path, ": token id ", id, " of the prompt is outside the model's vocabulary of ", vocab);
  return at::tensor(std::vector<int64_t>(ids.begin(), ids.end()), at::kLong).unsqueeze(0);
}

std::string TextStream::add(int64_t id) {
  ids_.push_back(static_cast<int32_t>(id));
  const std::string text = tok_.decode(ids_, /*skip_special_tokens=*/true);
  if (text.size() <= shown_.size() || text.compare(0, shown_.size(), shown_) != 0 || text::find_invalid_utf8(text) != std::string::npos)
    return {};
  std::string piece = text.substr(shown_.size());
  shown_ = text;
  return piece;
}

std::string TextStream::flush() {
  const std::string text = tok_.decode(ids_, /*skip_special_tokens=*/true);
  if (text.size() <= shown_.size() || text.compare(0, shown_.size(), shown_) != 0) return {};
  std::string piece = text.substr(shown_.size());
  shown_ = text;
  return piece;
}

std::vector<int64_t> eos_ids(const Model& model) {
  std::vector<int64_t> out;
  const auto& j = model.config().json();
  if (!j.contains("eos_token_id")) return out;
  const auto& e = j["eos_token_id"];
  if (e.is_number_integer()) out.push_back(e.get<int64_t>());
  else if (e.is_array())
    for (const auto& v : e)
      if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  return out;
}

}  // namespace quench
