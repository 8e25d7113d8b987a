#pragma once
// Reads a tokenizer.json in one streaming pass. Everything becomes an ordinary JSON tree except
// model.vocab and model.merges, which go straight into flat lists: for a 10 MB Llama-3 file
// they are 400,000 small values, and as a JSON tree they cost several times the file in memory
// and most of the loading time.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace quench::text {

struct MergeEntry {
  enum Kind : uint8_t { Line, Pair, BadPair, BadType };
  std::string a, b;  // Line: a holds the whole "x y" string; BadType: a holds the JSON type name
  Kind kind = Line;
};

struct BpeSource {
  bool has_vocab = false, has_merges = false;  // found as an object / an array under "model"
  std::vector<std::pair<std::string, int64_t>> vocab;  // in file order
  std::vector<MergeEntry> merges;
};

struct TokenizerJson {
  nlohmann::json root;  // model.vocab and model.merges left empty when taken into `bpe`
  BpeSource bpe;
};

// Throws quench::Error naming `name` for invalid JSON and for vocabulary ids that are not integers.
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& name);

}  // namespace quench::text
