#pragma once
// The BPE model of tokenizer.json: vocabulary, ranked merges, unknown-token and byte-fallback
// handling, and the merge loop (the tokenizers library's, merge by merge in (rank, position)
// order), with a per-thread cache of words already seen.
//
// dropout is read and checked but not applied: Quench encodes deterministically, as inference
// does with every released tokenizer (they ship dropout null).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/text/json_node.h"
#include "core/text/string_map.h"
#include "core/text/tokenizer_json.h"

namespace quench::text {

class Bpe {
 public:
  // model: the "model" object (options); src: its vocab and merges as the streaming parser
  // took them out. raw_bytes: pieces will arrive as raw bytes that the vocabulary spells in
  // GPT-2 byte characters (see pretokenizer.h).
  Bpe(const JsonNode& model, const BpeSource& src, bool raw_bytes);
  Bpe(const Bpe&) = delete;
  Bpe& operator=(const Bpe&) = delete;

  // Appends the ids of one pre-tokenized piece.
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // nullptr when no token has this id
  size_t vocab_size() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(tokens_.size()) - 1; }

 private:
  struct Merge {
    int32_t rank, id;
  };
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Word;

  void encode_word(std::string_view piece, std::vector<int32_t>& out) const;
  void add_unknown(Word& w, std::string_view s) const;
  void merge_all(std::vector<Symbol>& symbols) const;
  void build_word(std::string_view piece, Word& w) const;
  const Merge* find_merge(int32_t a, int32_t b) const;

  uint64_t instance_;  // tells this model's entries apart in the per-thread cache
  StringMap<int32_t> vocab_;
  std::vector<std::string> tokens_;  // by id; empty where no token
  std::vector<bool> has_token_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) → rank, merged id
  std::optional<std::string> unk_token_;
  std::optional<int32_t> unk_id_;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_fallback_id_[256];  // "<0xHH>" ids, -1 when absent

  // SentencePiece-style tokenizers hand the model whole sentences as one piece ("▁The▁cat").
  // When no token holds "▁" after its start except runs of "▁" alone, no symbol can ever
  // span a "▁" that follows another character, so the piece is cut there into words that
  // merge (and cache) independently: the same ids, linear time instead of one huge heap.
  bool split_at_word_marker_ = false;

  bool raw_bytes_ = false;
  // Raw-byte mode: the id of each byte's character alone, with the prefix (not first), with
  // the suffix (last), and with both; -1 when not in the vocabulary.
  int32_t byte_id_[4][256];
  StringMap<int32_t> raw_vocab_;  // raw bytes → id, for ignore_merges in raw-byte mode
};

}  // namespace quench::text
