// End-to-end: quench-cli tokenize as a user runs it, against the tokenizers library's ids.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "core/io/safetensors.h"

namespace quench::test {
namespace {

at::Tensor reference_ids(const std::string& rel) { return load_all_safetensors(fixture(rel)).at("ids").to(at::kLong).flatten(); }

std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

TEST(CliTokenize, CountMatchesTheLibrary) {
  auto r = run_cli({"tokenize", demo("sotu-llama"), "--text", demo("sotu-2000-2023.txt"), "--count"});
  ASSERT_EQ(r.code, 0) << r.err;
  const int64_t want = reference_ids("tokenizers/sotu/sotu-2000-2023.safetensors").numel();
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), std::to_string(want) + " tokens");
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;
}

TEST(CliTokenize, OutWritesTheIdsAsInt64Row) {
  const std::string out = temp_path("quench-tokenize-test.safetensors");
  std::filesystem::remove(out);
  auto r = run_cli({"tokenize", demo("sotu-mamba2"), "--text", fixture("tokenizers/moby-dick-excerpt.txt"), "--out", out});
  ASSERT_EQ(r.code, 0) << r.err;
  const at::Tensor ids = load_all_safetensors(out).at("ids");
  EXPECT_EQ(ids.scalar_type(), at::kLong);
  const at::Tensor want = reference_ids("tokenizers/sotu/moby.safetensors");
  ASSERT_EQ(ids.dim(), 2);
  EXPECT_EQ(ids.size(0), 1);
  ASSERT_EQ(ids.size(1), want.numel());
  EXPECT_TRUE(at::equal(ids[0], want));
  std::filesystem::remove(out);
}

TEST(CliTokenize, SpecialTokensFromATokenizerFile) {
  const std::string tok = fixture("tokenizers/llama3-style/tokenizer.json");
  const std::string text = temp_path("quench-tokenize-text.txt");
  std::ofstream(text) << "Hello world";
  const std::string a = temp_path("quench-tokenize-a.safetensors"), b = temp_path("quench-tokenize-b.safetensors");
  ASSERT_EQ(run_cli({"tokenize", tok, "--text", text, "--out", a}).code, 0);
  auto r = run_cli({"tokenize", tok, "--text", text, "--out", b, "--add-special-tokens"});
  ASSERT_EQ(r.code, 0) << r.err;
  const at::Tensor plain = load_all_safetensors(a).at("ids")[0], with = load_all_safetensors(b).at("ids")[0];
  ASSERT_EQ(with.numel(), plain.numel() + 1);
  EXPECT_EQ(with[0].item<int64_t>(), 2);  // <|begin_of_text|> in this tokenizer
  EXPECT_TRUE(at::equal(with.slice(0, 1), plain));
  for (const auto& p : {text, a, b}) std::filesystem::remove(p);
}

TEST(CliTokenize, DefaultShowsTheFirstTokens) {
  const std::string text = temp_path("quench-tokenize-show.txt");
  std::ofstream(text) << "The state of our Union\tis strong.\n";
  auto r = run_cli({"tokenize", demo("sotu-llama"), "--text", text});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("token"), std::string::npos);
  EXPECT_NE(r.out.find("\\t"), std::string::npos) << r.out;       // control characters escaped
  EXPECT_NE(r.out.find("tokens in total"), std::string::npos) << r.out;
  std::filesystem::remove(text);
}

struct ErrCase {
  std::vector<std::string> args;
  int code;
  std::string says;
};


TEST(CliTokenize, ErrorsAreOneLineWithTheRightCode) {
  const std::string bad_text = temp_path("quench-tokenize-bad.txt");
  std::ofstream(bad_text) << "ok \xFF\xFE";
  const std::string out = temp_path("quench-tokenize-never.safetensors");
  std::filesystem::remove(out);
  const std::string sotu = demo("sotu-llama"), txt = demo("sotu-2000-2023.txt");
  const std::vector<ErrCase> cases = {
      {{"tokenize", sotu}, 2, "missing required option --text"},
      {{"tokenize", "--text", txt}, 2, "missing argument MODEL_DIR"},
      {{"tokenize", sotu, "--text", txt, "--count", "--out", out}, 2, "exclude each other"},
      {{"tokenize", sotu, "--text", txt, "--bogus"}, 2, "unknown option --bogus"},
      {{"tokenize", sotu, "--text", "/nonexistent.txt"}, 1, "/nonexistent.txt: cannot open"},
      {{"tokenize", sotu, "--text", bad_text, "--out", out}, 1, bad_text + ": not valid UTF-8 at byte 3"},
      {{"tokenize", demo("mnist-vit"), "--text", txt}, 1, "no tokenizer.json"},
      {{"tokenize", fixture("bad/tokenizer/wordpiece.json"), "--text", txt}, 1, "unsupported model type 'WordPiece'"},
      {{"tokenize", fixture("bad/tokenizer/merge-malformed.json"), "--text", txt}, 1, "model.merges[2]"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(c.args);
    EXPECT_EQ(r.code, c.code) << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << "wanted '" << c.says << "' in: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(out));  // a failed run leaves no output behind
  std::filesystem::remove(bad_text);
}

TEST(CliTokenize, Help) {
  auto r = run_cli({"tokenize", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("usage: quench-cli tokenize"), std::string::npos);
}

}  // namespace
}  // namespace quench::test
