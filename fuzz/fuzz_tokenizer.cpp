// libFuzzer target: tokenizer.json loading (core/text/*) on arbitrary bytes, then a round trip of
// a fixed text through encode and decode. The text mixes ASCII, spaces, digits, accents, CJK and
// an emoji so that normalizers, pre-tokenizers, byte fallback and the decoders all get work.
// quench::Error and nlohmann::json exceptions are orderly refusals; anything else is a finding.
#include <cstddef>
#include <cstdint>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/text/tokenizer.h"
#include "core/util/error.h"

namespace {

constexpr std::string_view kText = "Hello, world!  It's 2026\n\tcaf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82<s></s>";

void exercise(const quench::Tokenizer& tok) {
  for (bool special : {false, true}) {
    std::vector<int32_t> ids;
    try {
      ids = tok.encode(kText, special);
    } catch (const quench::Error&) {
      continue;  // e.g. no unk_token for a character the vocabulary lacks
    }
    for (int32_t id : ids) {
      // Every id, a post-processor's included, must be within max_id(), or an embedding of
      // max_id() + 1 rows would be indexed out of range.
      if (id < 0 || id > tok.max_id()) std::abort();
      (void)tok.is_special(id);
      if (auto s = tok.id_to_token(id)) (void)tok.token_to_id(*s);
    }
    ids.push_back(-1);  // ids no token has are skipped, as the library does
    if (tok.max_id() < INT32_MAX) ids.push_back(tok.max_id() + 1);
    (void)tok.decode(ids, false);
    (void)tok.decode(ids, true);
  }
  (void)tok.vocab_size();
  (void)tok.id_to_token(0);
  (void)tok.token_to_id("");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  try {
    exercise(quench::Tokenizer::from_json(json, "fuzz/tokenizer.json"));
  } catch (const quench::Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
