// End-to-end: quench-cli generate as a user runs it on the bundled models.
#include <gtest/gtest.h>

#include "cli_util.h"

namespace quench::test {
namespace {

TEST(CliGenerate, GreedyContinuesThePromptAndReportsBothSpeeds) {
  auto r = run_cli({"generate", demo("sotu-llama"), "--prompt", "The state of the union is", "--max-new-tokens", "12", "--ignore-eos"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("The state of the union is", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), std::string("The state of the union is").size() + 12) << r.out;
  EXPECT_TRUE(contains(r.err, "12 new tokens")) << r.err;
  EXPECT_TRUE(contains(r.err, "tokens/s decoding")) << r.err;

  // --json: the same greedy tokens, with the text and both speeds.
  auto j1 = run_cli({"generate", demo("sotu-llama"), "--prompt", "The state of the union is", "--max-new-tokens", "12", "--ignore-eos", "--json"});
  ASSERT_EQ(j1.code, 0) << j1.err;
  const auto j = nlohmann::json::parse(j1.out);
  EXPECT_EQ(j["tokens"].size(), 12u);
  EXPECT_GT(j["decode_tokens_per_second"].get<double>(), 0);
  EXPECT_GT(j["prefill_tokens_per_second"].get<double>(), 0);
  EXPECT_EQ("The state of the union is" + j["text"].get<std::string>() + "\n", r.out);
}

TEST(CliGenerate, Mamba2ContinuesFromItsRecurrentState) {
  auto r = run_cli({"generate", demo("sotu-mamba2"), "--prompt", "The state of the union is", "--max-new-tokens", "8", "--ignore-eos", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"].size(), 8u);
}

TEST(CliGenerate, SamplingFollowsTheSeed) {
  auto run = [](const std::string& seed) {
    auto r = run_cli({"generate", demo("sotu-llama"), "--prompt", "Our economy", "--max-new-tokens", "16", "--temperature", "1", "--top-k", "40",
                      "--seed", seed, "--ignore-eos", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out)["tokens"];
  };
  EXPECT_EQ(run("3"), run("3"));
  EXPECT_NE(run("3"), run("4"));
}

TEST(CliGenerate, RefusalsAreOneLine) {
  auto m = run_cli({"generate", demo("mnist-vit"), "--prompt", "x"});
  EXPECT_EQ(m.code, 1);
  EXPECT_TRUE(contains(m.err, "does not generate text")) << m.err;
  EXPECT_TRUE(m.out.empty()) << m.out;  // nothing printed before the refusal
  auto p = run_cli({"generate", demo("sotu-llama"), "--prompt", "x", "--top-p", "0"});
  EXPECT_EQ(p.code, 2) << p.err;
  auto both = run_cli({"generate", demo("sotu-llama")});
  EXPECT_EQ(both.code, 2);
  EXPECT_TRUE(contains(both.err, "--prompt")) << both.err;
}

TEST(CliEvalSpeed, RecordsPrefillAndDecodeSpeedsWithTheRun) {
  TempDir tmp;
  const std::string db = tmp.file("q.db");
  auto r = run_cli({"eval", demo("sotu-llama"), "--text", demo("sotu-calib.txt"), "--ctx", "64", "--max-windows", "2", "--speed", "--db", db, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k : {"prefill_tokens_per_second", "decode_tokens_per_second", "decode_tokens_per_second_b16"})
    EXPECT_GT(j.value(k, 0.0), 0) << k;
  auto show = run_cli({"experiments", "show", std::to_string(j["experiment"].get<int64_t>()), "--db", db});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_TRUE(contains(show.out, "decode_tokens_per_second_b16") || contains(show.out, "decode at batch 16")) << show.out;
  auto img = run_cli({"eval", demo("mnist-vit"), "--images", demo("mnist/test-images-idx3-ubyte.gz"), "--labels", demo("mnist/test-labels-idx1-ubyte.gz"),
                      "--speed", "--no-record"});
  EXPECT_EQ(img.code, 2) << img.err;
  EXPECT_TRUE(contains(img.err, "--speed")) << img.err;
}

TEST(CliCompressSpeed, TheCompressedModelsSpeedIsPartOfTheRun) {
  auto r = run_cli({"compress", demo("sotu-llama"), "--recipe", "W8A16", "--calib", demo("sotu-calib.txt"), "--samples", "2", "--seq", "32",
                    "--speed", "--no-record", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
  EXPECT_GT(j["metrics"].value("decode_tokens_per_second", 0.0), 0) << r.out;
  EXPECT_GT(j["metrics"].value("decode_tokens_per_second_b16", 0.0), 0) << r.out;
}

// --packed: the 4-bit layers run from their packed integers for the evaluation and the speed; on
// the CPU the dequantized integers are exactly the fake-quantized weights, so the perplexity is the
// dense run's to the last digit.
TEST(CliCompressPacked, EvaluatesTheSameModelFromPackedIntegers) {
  auto run = [](bool packed) {
    std::vector<std::string> args = {"compress", demo("sotu-llama"), "--recipe", "W4A16", "--calib", demo("sotu-calib.txt"), "--samples", "4",
                                     "--seq", "64", "--eval", demo("sotu-calib.txt"), "--ctx", "64", "--max-windows", "4", "--no-record", "--json"};
    if (packed) args.push_back("--packed");
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
  };
  const auto dense = run(false), packed = run(true);
  EXPECT_EQ(packed["metrics"]["perplexity"].get<double>(), dense["metrics"]["perplexity"].get<double>());
  EXPECT_GT(packed["metrics"].value("packed_layers", 0.0), 0);
  EXPECT_FALSE(dense["metrics"].contains("packed_layers"));
  EXPECT_TRUE(contains(packed["details"].value("packed", std::string()), "packed int4")) << packed["details"];
  // Text output names what ran packed and what did not.
  auto text = run_cli({"compress", demo("sotu-llama"), "--recipe", "W4A16", "--calib", demo("sotu-calib.txt"), "--samples", "2", "--seq", "32",
                       "--no-record", "--packed"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "packed      ")) << text.out;
  // Streamed weights are not in memory to pack: refused before any work.
  auto streamed = run_cli({"compress", demo("sotu-llama"), "--recipe", "W4A16", "--calib", demo("sotu-calib.txt"), "--samples", "2", "--seq",
                           "32", "--no-record", "--packed", "--max-memory", "1"});
  EXPECT_EQ(streamed.code, 2) << streamed.err;
  EXPECT_TRUE(contains(streamed.err, "--max-memory")) << streamed.err;
}

// A compressed-tensors checkpoint Quench wrote runs its 4-bit layers from the stored integers:
// the same perplexity as decoding them to floats first (on the CPU both multiply the same weights).
TEST(CliEvalPacked, CompressedTensorsCheckpointRunsFromItsIntegers) {
  TempDir tmp;
  const std::string out = tmp.file("w4a16");
  auto c = run_cli({"compress", demo("sotu-llama"), "--recipe", "W4A16", "--calib", demo("sotu-calib.txt"), "--samples", "2", "--seq", "32",
                    "--no-record", "--save-model", out, "--format", "compressed-tensors"});
  ASSERT_EQ(c.code, 0) << c.err;
  auto eval = [&](bool packed) {
    std::vector<std::string> args = {"eval", out, "--text", demo("sotu-calib.txt"), "--ctx", "64", "--max-windows", "4", "--no-record", "--json"};
    if (packed) args.push_back("--packed");
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return std::make_pair(nlohmann::json::parse(r.out), r.err);
  };
  const auto [dense, dense_err] = eval(false);
  const auto [packed, packed_err] = eval(true);
  EXPECT_EQ(packed["value"].get<double>(), dense["value"].get<double>());
  EXPECT_GT(packed.value("packed_layers", 0), 0) << packed;
  EXPECT_TRUE(contains(packed_err, "packed int4")) << packed_err;
  // A float checkpoint has nothing to run packed: refused, naming why.
  auto plain = run_cli({"eval", demo("sotu-llama"), "--text", demo("sotu-calib.txt"), "--ctx", "64", "--max-windows", "1", "--no-record", "--packed"});
  EXPECT_EQ(plain.code, 2) << plain.err;
  EXPECT_TRUE(contains(plain.err, "no 4-bit layer")) << plain.err;
}

}  // namespace
}  // namespace quench::test
