// Tokenizer components on small constructed tokenizer.json files, for behaviour the reference
// fixtures do not reach: split behaviors, Metaspace schemes, unknown characters, subword
// prefixes, added-token options, cancellation, and the errors broken files must give.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/text/pretokenizer.h"
#include "core/text/tokenizer.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

using Pieces = std::vector<std::pair<std::string, bool>>;

Pieces pre_tokenize(const std::string& json, const std::string& text, bool at_origin = true) {
  const auto j = nlohmann::json::parse(json);
  bool raw = false;
  auto p = text::load_pre_tokenizer(text::JsonNode(j, "test"), &raw);
  Pieces out;
  p->split(text, at_origin, [&](std::string_view s, bool o) { out.emplace_back(std::string(s), o); });
  return out;
}

std::vector<std::string> strings(const Pieces& p) {
  std::vector<std::string> out;
  for (const auto& x : p) out.push_back(x.first);
  return out;
}

std::string split_on_dash(const char* behavior) {
  return std::string(R"({"type":"Split","pattern":{"String":"-"},"invert":false,"behavior":")") + behavior + "\"}";
}

// The tokenizers library documents these on "the-final--countdown".
TEST(PreTokenizer, SplitBehaviorsAsDocumented) {
  const std::string t = "the-final--countdown";
  using V = std::vector<std::string>;
  EXPECT_EQ(strings(pre_tokenize(split_on_dash("Removed"), t)), (V{"the", "final", "countdown"}));
  EXPECT_EQ(strings(pre_tokenize(split_on_dash("Isolated"), t)), (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(strings(pre_tokenize(split_on_dash("MergedWithPrevious"), t)), (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(strings(pre_tokenize(split_on_dash("MergedWithNext"), t)), (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(strings(pre_tokenize(split_on_dash("Contiguous"), t)), (V{"the", "-", "final", "--", "countdown"}));
  const std::string inverted = R"({"type":"Split","pattern":{"String":"-"},"invert":true,"behavior":"Removed"})";
  EXPECT_EQ(strings(pre_tokenize(inverted, t)), (V{"-", "-", "-"}));
}

TEST(PreTokenizer, MetaspacePrependsOnlyAtTheStartOfTheTextWithSchemeFirst) {
  const std::string first = R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true})";
  const std::string always = R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true})";
  using V = std::vector<std::string>;
  EXPECT_EQ(strings(pre_tokenize(first, "Hey  friend")), (V{"▁Hey", "▁", "▁friend"}));
  EXPECT_EQ(strings(pre_tokenize(first, "Hey friend", false)), (V{"Hey", "▁friend"}));
  EXPECT_EQ(strings(pre_tokenize(always, "Hey friend", false)), (V{"▁Hey", "▁friend"}));
  const Pieces p = pre_tokenize(first, "a b");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p[0].second);
  EXPECT_FALSE(p[1].second);
}

TEST(PreTokenizer, RefusesUnknownTypesByName) {
  try {
    pre_tokenize(R"({"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true}]})", "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pretokenizers[0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'Digits'"), std::string::npos) << e.what();
  }
}

// A BPE tokenizer with no pre-tokenizer: the whole text is one word.
std::string bpe_json(const std::string& vocab, const std::string& merges, const std::string& extra = "") {
  return R"({"version":"1.0","model":{"type":"BPE","vocab":)" + vocab + R"(,"merges":)" + merges + extra + "}}";
}

// A post-processor may add an id no vocabulary entry has (the file says so, and the tokenizers
// library does not check it): max_id() counts it, so the embedding check sees it.
TEST(PostProcessor, ItsIdsCountInMaxId) {
  const std::string vocab = R"({"a":0,"b":1,"c":2})";
  const std::string body = bpe_json(vocab, "[]");
  EXPECT_EQ(Tokenizer::from_json(body).max_id(), 2);
  const std::string with = body.substr(0, body.size() - 1) +
                           R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},)"
                           R"({"Sequence":{"id":"A","type_id":0}}],"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[5000],"tokens":["<s>"]}}}})";
  const Tokenizer t = Tokenizer::from_json(with);
  EXPECT_EQ(t.encode("abc", true).front(), 5000);
  EXPECT_EQ(t.max_id(), 5000);
  const std::string roberta = body.substr(0, body.size() - 1) + R"(,"post_processor":{"type":"RobertaProcessing","cls":["<s>",7],"sep":["</s>",9]}})";
  EXPECT_EQ(Tokenizer::from_json(roberta).max_id(), 9);
}

// Found by fuzz_tokenizer after 24 minutes (fuzz/corpus/tokenizer/Bpe.SparseIdsBeyondTheGapBoundAreRefused.json):
// one token with a large id made the id table 1.2 GB.
TEST(Bpe, SparseIdsBeyondTheGapBoundAreRefused) {
  try {
    Tokenizer::from_json(bpe_json(R"({"a": 0, "b": 40000000})", "[]"), "sparse.json");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sparse.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("largest id is 40000000 but there are only 2 tokens"), std::string::npos) << msg;
  }
  // Gaps below the bound stay accepted: some vocabularies skip ids.
  EXPECT_EQ(Tokenizer::from_json(bpe_json(R"({"a": 0, "b": 1000})", "[]")).max_id(), 1000);
}

TEST(Bpe, LowestRankMergesFirstAndBothMergeFormsAgree) {
  const std::string vocab = R"({"a":0,"b":1,"c":2,"ab":3,"bc":4,"abc":5})";
  using V = std::vector<int32_t>;
  // b+c outranks a+b, and a+bc exists: one token.
  EXPECT_EQ(Tokenizer::from_json(bpe_json(vocab, R"(["b c","a b","a bc"])")).encode("abc"), (V{5}));
  EXPECT_EQ(Tokenizer::from_json(bpe_json(vocab, R"([["b","c"],["a","b"],["a","bc"]])")).encode("abc"), (V{5}));
  // a+b first, and nothing merges ab with c.
  EXPECT_EQ(Tokenizer::from_json(bpe_json(vocab, R"(["a b","b c"])")).encode("abc"), (V{3, 2}));
  // Repeated pairs merge left to right.
  EXPECT_EQ(Tokenizer::from_json(bpe_json(R"({"a":0,"aa":1})", R"(["a a"])")).encode("aaa"), (V{1, 0}));
}

TEST(Bpe, UnknownCharactersUseByteFallbackThenTheUnknownToken) {
  const std::string vocab = R"({"<unk>":0,"<0xC3>":1,"<0xA9>":2,"a":3})";
  auto tok = [&](const std::string& opts) { return Tokenizer::from_json(bpe_json(vocab, "[]", opts)); };
  using V = std::vector<int32_t>;
  const std::string fallback = R"(,"unk_token":"<unk>","byte_fallback":true,"fuse_unk":true)";
  EXPECT_EQ(tok(fallback).encode("a\xC3\xA9" "a"), (V{3, 1, 2, 3}));            // é has both byte tokens
  EXPECT_EQ(tok(fallback).encode("a\xE6\x97\xA5\xE6\x9C\xAC" "a"), (V{3, 0, 3}));  // 日本: no bytes, one fused unk
  EXPECT_EQ(tok(R"(,"unk_token":"<unk>","fuse_unk":false)").encode("a\xE6\x97\xA5\xE6\x9C\xAC" "a"), (V{3, 0, 0, 3}));
  EXPECT_EQ(tok("").encode("a\xE6\x97\xA5" "a"), (V{3, 3}));  // no unk_token: dropped, as the library does
  EXPECT_THROW(tok(R"(,"unk_token":"<missing>")").encode("\xE6\x97\xA5"), Error);
}

TEST(Bpe, SubwordPrefixAndSuffixTakePartInLookupsAndMerges) {
  const std::string vocab = R"({"a":0,"##b":1,"##c</w>":2,"ab":3,"c</w>":4})";
  const std::string opts = R"(,"continuing_subword_prefix":"##","end_of_word_suffix":"</w>")";
  using V = std::vector<int32_t>;
  EXPECT_EQ(Tokenizer::from_json(bpe_json(vocab, "[]", opts)).encode("abc"), (V{0, 1, 2}));
  EXPECT_EQ(Tokenizer::from_json(bpe_json(vocab, R"(["a ##b"])", opts)).encode("abc"), (V{3, 2}));
}

// SentencePiece-style pieces are cut into words before each "▁" when the vocabulary allows it
// (see bpe.h). A token that holds "▁" inside ("a▁b", never produced by a merge) turns the cut
// off; the ids must be the same either way, also with a "▁▁" token that runs of spaces merge into.
TEST(Bpe, CuttingSentencesIntoWordsChangesNoId) {
  nlohmann::json j;
  {
    std::ifstream in(test::fixture("tokenizers/sp-legacy/tokenizer.json"));
    in >> j;
  }
  auto& vocab = j["model"]["vocab"];
  const std::string m = "\xE2\x96\x81";
  vocab[m + m] = static_cast<int>(vocab.size());
  j["model"]["merges"].push_back({m, m});
  const Tokenizer cut = Tokenizer::from_json(j.dump());
  vocab["a" + m + "b"] = static_cast<int>(vocab.size());
  const Tokenizer whole = Tokenizer::from_json(j.dump());

  std::string text = test::read_file(test::fixture("tokenizers/moby-dick-excerpt.txt")).substr(0, 60000);
  text += "  two   three    four \n  \t x \xE6\x97\xA5\xE6\x9C\xAC  \xF0\x9F\x9A\x80 end  ";
  const auto ids = cut.encode(text);
  EXPECT_EQ(ids, whole.encode(text));
  EXPECT_NE(std::find(ids.begin(), ids.end(), *cut.token_to_id(m + m)), ids.end());  // the "▁▁" merge happened
}

TEST(AddedTokens, StripAndSingleWordOptions) {
  const Tokenizer sotu = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  auto join = [](std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // The bundled tokenizer with three more added tokens, one per option.
  auto j = nlohmann::json::parse(R"({"version":"1.0"})");
  {
    std::ifstream in(test::demo("sotu-llama/tokenizer.json"));
    in >> j;
  }
  j["added_tokens"].push_back({{"id", 4096}, {"content", "<L>"}, {"single_word", false}, {"lstrip", true}, {"rstrip", false}, {"normalized", false}, {"special", true}});
  j["added_tokens"].push_back({{"id", 4097}, {"content", "<R>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", true}, {"normalized", false}, {"special", false}});
  j["added_tokens"].push_back({{"id", 4098}, {"content", "nation"}, {"single_word", true}, {"lstrip", false}, {"rstrip", false}, {"normalized", false}, {"special", false}});
  const Tokenizer tok = Tokenizer::from_json(j.dump());
  EXPECT_EQ(tok.vocab_size(), 4099);
  EXPECT_EQ(tok.encode("Hello  <L> world"), join(join(sotu.encode("Hello"), {4096}), sotu.encode(" world")));
  EXPECT_EQ(tok.encode("Hello <R>  world"), join(join(sotu.encode("Hello "), {4097}), sotu.encode("world")));
  EXPECT_EQ(tok.encode("a nation."), join(join(sotu.encode("a "), {4098}), sotu.encode(".")));
  EXPECT_EQ(tok.encode("international"), sotu.encode("international"));  // inside a word: not matched
  EXPECT_EQ(tok.decode({4096, 4097}, true), "<R>");                       // only <L> is special
}

// A GGUF vocabulary can carry 100k+ added tokens (padding rows of a 128k vocabulary): building
// the matcher and matching must not scan every content (it once took minutes; now well under a second).
TEST(AddedTokens, ManyAddedTokensMatchLeftmostLongest) {
  nlohmann::json j;
  {
    std::ifstream in(test::demo("sotu-llama/tokenizer.json"));
    in >> j;
  }
  for (int i = 4096; i < 124096; ++i)
    j["added_tokens"].push_back({{"id", i}, {"content", "[PAD" + std::to_string(i) + "]"}, {"single_word", false}, {"lstrip", false},
                                 {"rstrip", false}, {"normalized", false}, {"special", false}});
  j["added_tokens"].push_back({{"id", 124096}, {"content", "[PAD5000]x"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                               {"normalized", false}, {"special", false}});
  const Tokenizer tok = Tokenizer::from_json(j.dump());
  EXPECT_EQ(tok.vocab_size(), 124097);
  const Tokenizer sotu = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  auto ids = tok.encode("a[PAD5000]b[PAD5000]x[PAD99][PAD124095]");
  std::vector<int32_t> want = sotu.encode("a");
  want.push_back(5000);
  for (int32_t id : sotu.encode("b")) want.push_back(id);
  want.push_back(124096);  // the longest content starting there
  for (int32_t id : sotu.encode("[PAD99]")) want.push_back(id);
  want.push_back(124095);
  EXPECT_EQ(ids, want);
}

TEST(Tokenizer, LookupsDecodeAndSpecialTokens) {
  const Tokenizer tok = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  EXPECT_EQ(tok.vocab_size(), 4096);
  EXPECT_EQ(tok.max_id(), 4095);
  EXPECT_EQ(tok.token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok.id_to_token(0), "<|endoftext|>");
  EXPECT_FALSE(tok.id_to_token(4096).has_value());
  EXPECT_FALSE(tok.token_to_id("no such token").has_value());
  EXPECT_TRUE(tok.is_special(0));
  const auto ids = tok.encode("The Union<|endoftext|>is strong");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 0), 1);
  EXPECT_EQ(tok.decode(ids), "The Union<|endoftext|>is strong");
  EXPECT_EQ(tok.decode(ids, true), "The Unionis strong");
}

TEST(Tokenizer, RefusesInvalidUtf8NamingTheByte) {
  const Tokenizer tok = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  try {
    tok.encode("abc\xFF");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("byte 3"), std::string::npos) << e.what();
  }
}

TEST(Tokenizer, ProgressReportsAndCancels) {
  const Tokenizer tok = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  std::string text;
  for (int i = 0; i < 70000; ++i) text += "The state of our Union is strong. ";
  size_t calls = 0, last = 0;
  const auto ids = tok.encode(text, false, [&](size_t done, size_t total) {
    EXPECT_EQ(total, text.size());
    EXPECT_GE(done, last);
    last = done;
    ++calls;
    return true;
  });
  EXPECT_EQ(ids, tok.encode(text));
  EXPECT_GE(calls, 2u);
  EXPECT_EQ(last, text.size());
  EXPECT_THROW(tok.encode(text, false, [](size_t, size_t) { return false; }), Cancelled);
}

// Broken files: an error naming the file and what is wrong with it, never a crash.
struct BadFile {
  const char* file;
  std::vector<const char*> mentions;
};

class BrokenTokenizer : public ::testing::TestWithParam<BadFile> {};

TEST_P(BrokenTokenizer, FailsWithAMessageNamingFileAndKey) {
  const std::string path = test::fixture(std::string("bad/tokenizer/") + GetParam().file);
  try {
    Tokenizer::from_file(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const char* m : GetParam().mentions) EXPECT_NE(msg.find(m), std::string::npos) << "'" << m << "' not in: " << msg;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Files, BrokenTokenizer,
    ::testing::Values(BadFile{"no-model.json", {"missing key 'model'"}},
                      BadFile{"wordpiece.json", {"model.type", "'WordPiece'"}},
                      BadFile{"unknown-model.json", {"'Sentencizer'"}},
                      BadFile{"merge-part-missing.json", {"model.merges[1]", "'x'", "not in the vocabulary"}},
                      BadFile{"merge-result-missing.json", {"model.merges[1]", "'bc'"}},
                      BadFile{"merge-malformed.json", {"model.merges[2]", "malformed merge 'abc'"}},
                      BadFile{"merge-not-pair.json", {"model.merges[1]", "pair"}},
                      BadFile{"merge-number.json", {"model.merges[1]", "got number"}},
                      BadFile{"vocab-nested.json", {"model.vocab", "token 'b'", "object"}},
                      BadFile{"truncated.json", {"invalid JSON"}},
                      BadFile{"unknown-pretokenizer.json", {"pre_tokenizer.pretokenizers[1]", "'Whitespace'"}},
                      BadFile{"unknown-normalizer.json", {"normalizer", "'NFKC'"}},
                      BadFile{"bad-regex.json", {"pre_tokenizer.pattern", "(\\p{L}+"}},
                      BadFile{"bad-vocab-id.json", {"model.vocab", "'b'"}},
                      BadFile{"not-an-object.json", {"expected an object"}}),
    [](const auto& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find('.'));
      for (auto& c : n)
        if (c == '-') c = '_';
      return n;
    });

TEST(BrokenTokenizer, MissingFileAndDirectory) {
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/tokenizer.json"), Error);
  try {
    Tokenizer::from_model_dir(test::demo("mnist-vit"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench
