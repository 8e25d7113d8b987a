// Tokenizer parity with the Hugging Face tokenizers library: every case of the reference
// fixtures (ids, ids with special tokens, decoded text) and whole-corpus ids, exactly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/io/safetensors.h"
#include "core/text/tokenizer.h"
#include "test_util.h"

namespace quench {
namespace {


std::vector<int32_t> reference_ids(const std::string& path) {
  const at::Tensor ids = load_all_safetensors(path).at("ids").to(at::kLong).flatten();
  const auto* p = ids.data_ptr<int64_t>();
  return std::vector<int32_t>(p, p + ids.numel());
}

// Index of the first difference, for messages that point at the spot.
size_t first_difference(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

class ReferenceTokenizer : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir() const { return test::fixture("tokenizers/" + GetParam()); }
};

TEST_P(ReferenceTokenizer, EveryCaseMatchesTheLibrary) {
  const Tokenizer tok = Tokenizer::from_file(dir() + "/tokenizer.json");
  const auto cases = nlohmann::json::parse(test::read_file(dir() + "/cases.json"));
  ASSERT_GT(cases.size(), 20u);
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string text = c["text"].get<std::string>();
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    SCOPED_TRACE("case " + std::to_string(i) + ": " + nlohmann::json(text).dump());
    EXPECT_EQ(tok.encode(text), ids);
    EXPECT_EQ(tok.encode(text, true), c["ids_special"].get<std::vector<int32_t>>());
    EXPECT_EQ(tok.decode(ids), c["decoded"].get<std::string>());
  }
}

TEST_P(ReferenceTokenizer, MobyDickExcerptMatchesTheLibrary) {
  const Tokenizer tok = Tokenizer::from_file(dir() + "/tokenizer.json");
  const std::string text = test::read_file(test::fixture("tokenizers/moby-dick-excerpt.txt"));
  const auto want = reference_ids(dir() + "/moby.safetensors");
  const auto got = tok.encode(text);
  ASSERT_EQ(got.size(), want.size()) << "first difference at token " << first_difference(got, want);
  EXPECT_EQ(first_difference(got, want), want.size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ReferenceTokenizer,
                         ::testing::Values("gpt2-style", "llama3-style", "qwen2-style", "sp-legacy", "sp-metaspace", "sotu"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(SotuTokenizer, WholeEvaluationTextMatchesTheLibrary) {
  const Tokenizer tok = Tokenizer::from_model_dir(test::demo("sotu-llama"));
  const std::string text = test::read_file(test::demo("sotu-2000-2023.txt"));
  const auto want = reference_ids(test::fixture("tokenizers/sotu/sotu-2000-2023.safetensors"));
  const auto got = tok.encode(text);
  ASSERT_EQ(got.size(), want.size()) << "first difference at token " << first_difference(got, want);
  EXPECT_EQ(first_difference(got, want), want.size());
  // Byte-level BPE loses nothing: decoding gives the text back.
  EXPECT_EQ(tok.decode(got), text);
}

}  // namespace
}  // namespace quench
