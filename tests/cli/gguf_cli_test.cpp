// quench-cli compress --save-model FILE --format gguf, end to end: the plan names the layers a
// GGUF type cannot hold and what they keep; the file has the size the blocks imply (Q4_0: 4.5 bits
// per weight); an existing file needs --force; recipes GGUF cannot hold are refused with one line
// before anything is written or recorded.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"
#include "core/io/gguf.h"

using namespace quench;
using nlohmann::json;
using test::contains;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

test::CliResult compress(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"compress", test::demo("sotu-llama"), "--calib", test::demo("sotu-calib.txt"), "--samples", "4", "--seq", "64", "--no-record"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

TEST(GgufCli, PlanNamesTheFallbackLayers) {
  const auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "Q4_0", "--plan"});
  ASSERT_EQ(r.code, 0) << r.err;
  // down_proj reads 688 features: not whole blocks of 32.
  EXPECT_TRUE(contains(r.out, "model.layers.0.mlp.down_proj: its 688 input features do not divide into Q4_0 blocks of 32")) << r.out;
  EXPECT_TRUE(contains(r.out, "Q4_0 rtn")) << r.out;
}

TEST(GgufCli, Q4_0FileHasTheBlockSizeAndNeedsForce) {
  test::TempDir tmp;
  const std::string out = tmp.file("sotu-q4_0.gguf");
  const auto r = compress({"--recipe", "Q4_0", "--save-model", out, "--format", "gguf"});
  ASSERT_EQ(r.code, 0) << r.err;
  GgufFile f(out);
  EXPECT_EQ(f.key("general.architecture").as_string("arch"), "llama");
  int64_t q_values = 0, q_bytes = 0;
  for (const auto& t : f.tensors())
    if (t.type_code == static_cast<uint32_t>(GgmlType::Q4_0)) {
      q_values += t.numel();
      q_bytes += static_cast<int64_t>(t.nbytes);
    }
  ASSERT_GT(q_values, 0);
  EXPECT_DOUBLE_EQ(8.0 * static_cast<double>(q_bytes) / static_cast<double>(q_values), 4.5);
  // down_proj stayed in the checkpoint's float type.
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight").type_code, static_cast<uint32_t>(GgmlType::BF16));
  EXPECT_EQ(f.tensor("blk.0.attn_q.weight").type_code, static_cast<uint32_t>(GgmlType::Q4_0));

  const auto again = compress({"--recipe", "Q4_0", "--save-model", out, "--format", "gguf"});
  EXPECT_EQ(again.code, 2) << again.err;
  EXPECT_TRUE(contains(again.err, "exists; pass --force")) << again.err;
  const auto forced = compress({"--recipe", "Q8_0", "--save-model", out, "--format", "gguf", "--force"});
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(GgufFile(out).tensor("blk.0.attn_q.weight").type_code, static_cast<uint32_t>(GgmlType::Q8_0));
}

TEST(GgufCli, RefusesWhatGgufCannotHold) {
  test::TempDir tmp;
  const std::string out = tmp.file("x.gguf");
  const auto w4 = compress({"--recipe", "W8A16", "--save-model", out, "--format", "gguf"});
  EXPECT_EQ(w4.code, 2);
  EXPECT_TRUE(contains(w4.err, "Quench's integer grid")) << w4.err;
  const auto w8a8 = compress({"--recipe", "W8A8", "--save-model", out, "--format", "gguf"});
  EXPECT_EQ(w8a8.code, 2);
  EXPECT_TRUE(contains(w8a8.err, "activation quantization")) << w8a8.err;
  // Mamba-2 with two groups: llama.cpp normalizes per group, transformers over all channels.
  const auto mamba = run_cli({"compress", test::fixture("hf-tiny/mamba2-tiny"), "--recipe", "Q8_0", "--calib", test::demo("sotu-calib.txt"),
                              "--no-record", "--save-model", out, "--format", "gguf"});
  EXPECT_EQ(mamba.code, 2);
  EXPECT_TRUE(contains(mamba.err, "n_groups 2")) << mamba.err;
  EXPECT_FALSE(fs::exists(out));
  const auto fmt = compress({"--recipe", "Q8_0", "--save-model", out, "--format", "onnx"});
  EXPECT_EQ(fmt.code, 2);
  EXPECT_TRUE(contains(fmt.err, "--format")) << fmt.err;
}

}  // namespace
