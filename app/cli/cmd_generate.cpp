#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/cli/args.h"
#include "app/cli/commands.h"
#include "app/cli/format.h"
#include "core/export/gguf_import.h"
#include "core/models/memory_plan.h"
#include "core/models/registry.h"
#include "core/runs/generate.h"
#include "core/store/metrics.h"
#include "core/text/tokenizer.h"
#include "core/text/unicode.h"
#include "core/util/error.h"
#include "core/util/read_file.h"

namespace quench::cli {

namespace {
}  // namespace

int cmd_generate(const Argv& argv) {
  Args a("generate",
         "Continues the prompt with the model's decoding cache: the prompt in one prefill step, then one token per step,\n"
         "printed as it comes. Prefill and decode speeds go to stderr. Llama, Qwen2, Qwen3, Mistral and GPT-2 keep keys\n"
         "and values per block; Mamba and Mamba-2 their conv window and scan state.");
  a.positional("MODEL_DIR", "the model folder");
  a.option("prompt", "TEXT", "the prompt");
  a.option("prompt-file", "FILE", "the prompt, read from a UTF-8 file");
  a.one_of({"prompt", "prompt-file"}, true, "--prompt TEXT or --prompt-file FILE");
  a.option("max-new-tokens", "N", "tokens to generate at most", "64");
  a.option("temperature", "T", "0: greedy; above 0, sampled from the top-k / top-p tokens with a seeded generator (the same "
                               "seed gives the same text on any device)", "0");
  a.option("top-k", "K", "sample among the K likeliest tokens (0: all)", "0");
  a.option("top-p", "P", "sample among the likeliest tokens whose probabilities add up to P", "1");
  a.option("seed", "S", "the sampling generator's seed", "0");
  a.flag("ignore-eos", "go on past config.json's eos_token_id");
  add_device_options(a);
  add_max_memory_option(a);
  a.flag("json", "one object on stdout with the text, the token ids and both speeds");
  if (!a.parse(argv)) return 0;
  const std::string prompt_text = a.get("prompt") ? *a.get("prompt") : read_file(*a.get("prompt-file"), kMaxTextBytes, "prompt");
  if (const size_t bad = text::find_invalid_utf8(prompt_text); bad != std::string::npos)
    fail(a.get("prompt-file") ? *a.get("prompt-file") : std::string("--prompt"), ": not valid UTF-8 at byte ", bad);
  GenerateOptions g;
  g.max_new_tokens = a.get_int("max-new-tokens");
  g.temperature = a.get_double("temperature");
  g.top_k = a.get_int("top-k");
  g.top_p = a.get_double("top-p");
  g.seed = static_cast<uint64_t>(a.get_int("seed"));
  if (g.max_new_tokens < 0 || g.temperature < 0 || g.top_k < 0 || !(g.top_p > 0 && g.top_p <= 1) || a.get_int("seed") < 0)
    throw UsageError("--max-new-tokens, --temperature, --top-k and --seed must be ≥ 0, --top-p in (0, 1]");
  const bool json = a.flag("json");

  LoadOptions opts;
  opts.device = parse_device(*a.get("device"));
  opts.dtype = parse_dtype(*a.get("dtype"));
  opts.max_memory = max_memory_option(a);
  MemoryPlan plan;
  opts.plan = &plan;
  const std::string dir = resolve_model_path(a.positional()[0]);
  auto model = load_model(a.positional()[0], opts);
  if (opts.max_memory) std::cerr << plan.describe() << "\n";
  check_generates(*model, a.positional()[0]);
  const Tokenizer tok = Tokenizer::from_model_dir(dir);
  const at::Tensor prompt = prompt_ids(*model, tok, prompt_text, dir + "/tokenizer.json");
  if (!a.flag("ignore-eos")) g.stop_ids = eos_ids(*model);

  TextStream stream(tok);
  if (!json) std::cout << prompt_text << std::flush;
  const GenerateResult r = generate(*model, prompt, g, [&](int64_t id) {
    if (!json) std::cout << stream.add(id) << std::flush;
  });
  std::vector<int32_t> all(r.tokens.begin(), r.tokens.end());
  const std::string continuation = tok.decode(all, /*skip_special_tokens=*/true);
  if (json) {
    nlohmann::json j = {{"prompt_tokens", r.prompt_tokens},
                        {"tokens", r.tokens},
                        {"text", continuation},
                        {"stopped_at_eos", r.stopped},
                        {"prefill_seconds", r.prefill_seconds},
                        {"decode_seconds", r.decode_seconds},
                        {metric_names::kPrefillTokensPerSecond, r.prefill_tokens_per_second()},
                        {metric_names::kDecodeTokensPerSecond, r.decode_tokens_per_second()},
                        {"device", *a.get("device")},
                        {"dtype", *a.get("dtype")}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << stream.flush() << "\n";
  std::cerr << r.prompt_tokens << " prompt tokens in " << fixed(r.prefill_seconds, 3) << " s (" << fixed(r.prefill_tokens_per_second(), 1)
            << " tokens/s); " << r.tokens.size() << " new tokens, " << fixed(r.decode_tokens_per_second(), 1) << " tokens/s decoding"
            << (r.stopped ? " (stopped at end of sequence)" : "") << "\n";
  return 0;
}

}  // namespace quench::cli
