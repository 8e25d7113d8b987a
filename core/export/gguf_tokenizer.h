#pragma once
// A tokenizer between tokenizer.json and GGUF's tokenizer.ggml.* keys, both ways, for the two
// styles llama.cpp and Quench share:
//   - byte-level BPE ("gpt2") with the pre-tokenizers llama.cpp names gpt-2, llama-bpe and qwen2;
//   - SentencePiece-style BPE with byte fallback ("llama": Llama 2, Mistral, TinyLlama), which
//     llama.cpp runs as SentencePiece: merges become scores, the "▁" prefix add_space_prefix.
// Anything else would make llama.cpp split text differently from Quench, so it is refused.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/io/gguf.h"
#include "core/models/model.h"

namespace quench {

// "" when the model directory's tokenizer.json (or its absence) can be written as GGUF metadata,
// else why not, naming the file and the part of it.
std::string gguf_tokenizer_problem(const std::string& model_dir);

// Writes tokenizer.ggml.* as llama.cpp's converter does. A model without tokenizer.json gets a
// byte-level vocabulary of its size and no merges: llama.cpp loads it and runs token ids.
void add_gguf_tokenizer(GgufWriter& w, const Model& model, int64_t vocab);

// tokenizer.json rebuilt from tokenizer.ggml.*; nullopt (and why) for a style Quench cannot rebuild.
std::optional<nlohmann::json> tokenizer_json_from_gguf(const GgufFile& f, std::string& why);

}  // namespace quench
