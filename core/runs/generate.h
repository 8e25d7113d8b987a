#pragma once
// Text generation with the model's decoding cache (Model::decode): the prompt in one prefill step,
// then one token per step. Greedy (temperature 0) or sampled (temperature, top-k, top-p; a seeded
// CPU generator, so a seed gives the same text on any device). Speeds are measured here because
// prefill and decode are different workloads: tokens/s of each, not of the two mixed.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/models/model.h"
#include "core/text/tokenizer.h"

namespace quench {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  double temperature = 0;  // 0: greedy
  int64_t top_k = 0;       // 0: the whole vocabulary
  double top_p = 1.0;      // nucleus: the smallest set of tokens whose probability reaches top_p
  uint64_t seed = 0;
  std::vector<int64_t> stop_ids;  // generation ends after emitting one of these (eos)
};

struct GenerateResult {
  std::vector<int64_t> tokens;  // the new tokens only
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;  // decode: every step after the first token
  bool stopped = false;                            // ended on a stop id
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

// Refuses, naming `where`, a model that cannot generate: an image model, or one without a decoding cache.
void check_generates(const Model& model, const std::string& where);
// The prompt's ids as I64 [1, T], special tokens added as the tokenizer's post-processor says;
// throws naming tokenizer_path for an empty prompt or an id outside the model's vocabulary.
at::Tensor prompt_ids(const Model& model, const Tokenizer& tok, const std::string& text, const std::string& tokenizer_path);

// prompt: I64 [1, T] (T ≥ 1). on_token(id) after each new token (may be empty). Throws naming the
// architecture when it cannot decode, and the config key when prompt plus new tokens exceed the
// model's positions.
GenerateResult generate(Model& model, const at::Tensor& prompt, const GenerateOptions& opts,
                        const std::function<void(int64_t)>& on_token = {});

// Speed of the model as it is, on its device and dtype: a prefill of `prompt_tokens` random tokens
// at batch 1, then `steps` greedy decoding steps at each batch size in `batches` (after a short
// warm-up at the prefill's size and a few steps at each batch, so lazy initialization is not counted).
// Tokens/s of decoding count every sequence.
struct SpeedResult {
  double prefill_tokens_per_second = 0;
  std::vector<std::pair<int64_t, double>> decode_tokens_per_second;  // (batch, tokens/s)
  // What the decoding cache held at batch 1 after the prompt and the steps: keys and values (as a
  // KV-cache method stores them) and recurrent states.
  int64_t cache_bytes = 0;
};
SpeedResult measure_speed(Model& model, int64_t prompt_tokens, const std::vector<int64_t>& batches, int64_t steps = 32, uint64_t seed = 0);

// Text of generated tokens as it grows, for printing piece by piece: the whole continuation is
// decoded again at each token, and only a complete, valid UTF-8 extension is handed out, so a
// character split over several tokens appears once it is whole.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok) : tok_(tok) {}
  // The new text after this token ("" while a character is incomplete).
  std::string add(int64_t id);
  // Whatever is still held back at the end (bytes of an unfinished character, decoded as they are).
  std::string flush();

 private:
  const Tokenizer& tok_;
  std::vector<int32_t> ids_;
  std::string shown_;
};

// The ids that end a generation according to config.json's eos_token_id (a number or a list).
std::vector<int64_t> eos_ids(const Model& model);

}  // namespace quench
