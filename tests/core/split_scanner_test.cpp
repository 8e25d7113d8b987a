// The hand-written split scanners against PCRE2 running the same regexes: identical matches on
// real text (Moby-Dick, State of the Union, the reference cases) and on random strings built
// from the characters where the patterns' alternatives compete.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "core/text/regex.h"
#include "core/text/split_scanner.h"
#include "core/text/unicode.h"
#include "test_util.h"

namespace quench::text {
namespace {

using Spans = std::vector<std::pair<size_t, size_t>>;


Spans scan(SplitScheme scheme, std::string_view s) {
  Spans out;
  for (size_t i = 0; i < s.size();) {
    const size_t e = split_match_end(scheme, s, i);
    EXPECT_GT(e, i);
    if (e <= i) break;
    out.emplace_back(i, e);
    i = e;
  }
  return out;
}

// Where the two disagree first, for a readable failure.
std::string describe_difference(std::string_view s, const Spans& a, const Spans& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  if (i == a.size() && i == b.size()) return "identical";
  auto show = [&](const Spans& v) {
    if (i >= v.size()) return std::string("<end>");
    return nlohmann::json(std::string(s.substr(v[i].first, v[i].second - v[i].first))).dump();
  };
  return "match " + std::to_string(i) + ": scanner " + show(a) + ", PCRE2 " + show(b);
}

class ScannerVsRegex : public ::testing::TestWithParam<SplitScheme> {
 protected:
  void SetUp() override {
    if (!have_general_regex()) GTEST_SKIP() << "built without PCRE2: nothing to compare against";
    regex_ = std::make_unique<Regex>(split_scheme_pattern(GetParam()));
  }
  void check(std::string_view s) {
    const Spans a = scan(GetParam(), s), b = regex_->find_all(s);
    EXPECT_TRUE(a == b) << describe_difference(s, a, b);
  }
  std::unique_ptr<Regex> regex_;
};

TEST_P(ScannerVsRegex, RealText) {
  check(test::read_file(test::fixture("tokenizers/moby-dick-excerpt.txt")));
  check(test::read_file(test::demo("sotu-2000-2023.txt")));
  for (const char* name : {"gpt2-style", "sp-legacy"}) {
    const auto cases = nlohmann::json::parse(test::read_file(test::fixture(std::string("tokenizers/") + name + "/cases.json")));
    for (const auto& c : cases) check(c["text"].get<std::string>());
  }
}

TEST_P(ScannerVsRegex, AdversarialStrings) {
  // Characters at the boundaries of the alternatives: apostrophes and contraction letters in
  // both cases (and U+017F, which case-folds to 's'), spaces of every kind, CR/LF, digits of
  // several scripts, marks, symbols, CJK, emoji. U+180E is left out on purpose: PCRE2 10.42
  // counts it as \s, Oniguruma and the scanners do not.
  const std::vector<std::string> alphabet = {
      "'", "'", "s", "S", "t", "T", "r", "e", "E", "v", "m", "l", "L", "d", "D", "\xC5\xBF", "a", "Z",
      " ", " ", " ", "\t", "\n", "\r", "\v", "\f", "\xC2\xA0", "\xE3\x80\x80", "\xE2\x80\x89", "\xC2\x85",
      "0", "7", "\xD9\xA3", "\xE2\x85\xA2", "\xC2\xBD", ".", ",", "!", "-", "_", "\xCC\x81", "\xE2\x80\x94",
      "\xE6\x97\xA5", "\xF0\x9F\x9A\x80", "\xE2\x80\x8D", "<", "|", "\xC3\xA9", "\xCE\xA9"};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1), len(1, 40);
  for (int n = 0; n < 4000; ++n) {
    std::string s;
    for (size_t k = len(rng); k > 0; --k) s += alphabet[pick(rng)];
    check(s);
    if (HasFailure()) {
      ADD_FAILURE() << "on " << nlohmann::json(s).dump();
      return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, ScannerVsRegex, ::testing::Values(SplitScheme::Gpt2, SplitScheme::Llama3, SplitScheme::Qwen2),
                         [](const auto& info) {
                           switch (info.param) {
                             case SplitScheme::Gpt2: return std::string("Gpt2");
                             case SplitScheme::Llama3: return std::string("Llama3");
                             case SplitScheme::Qwen2: return std::string("Qwen2");
                           }
                           return std::string("unknown");
                         });

TEST(SplitScanner, RecognizesOnlyTheExactPatterns) {
  EXPECT_EQ(known_split_scheme(split_scheme_pattern(SplitScheme::Llama3)), SplitScheme::Llama3);
  EXPECT_EQ(known_split_scheme(split_scheme_pattern(SplitScheme::Qwen2)), SplitScheme::Qwen2);
  EXPECT_FALSE(known_split_scheme(std::string(split_scheme_pattern(SplitScheme::Gpt2)) + "|x"));
}

// A whitespace run gives its last character to the word after it; newlines before a word are
// therefore split one by one.
TEST(SplitScanner, Gpt2KeepsOneSpaceForTheNextWord) {
  const std::string s = "Hello   world\n\nIt's 2023!";
  std::vector<std::string> pieces;
  for (const auto& [b, e] : scan(SplitScheme::Gpt2, s)) pieces.push_back(s.substr(b, e - b));
  const std::vector<std::string> want = {"Hello", "  ", " world", "\n", "\n", "It", "'s", " 2023", "!"};
  EXPECT_EQ(pieces, want);
}

TEST(SplitScanner, Llama3GroupsDigitsByThreeAndKeepsNewlinesTogether) {
  const std::string s = "1234567 \n\n  x";
  std::vector<std::string> pieces;
  for (const auto& [b, e] : scan(SplitScheme::Llama3, s)) pieces.push_back(s.substr(b, e - b));
  const std::vector<std::string> want = {"123", "456", "7", " \n\n", " ", " x"};
  EXPECT_EQ(pieces, want);
}

}  // namespace
}  // namespace quench::text
