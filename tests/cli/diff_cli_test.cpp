// quench-cli diff and GGUF files on the command line: a Q4_0 GGUF of sotu-llama compared with the
// float model layer by layer (SQNR of 4-bit blocks ≈ 20 dB, float-kept layers exact), both
// perplexities on the same windows; inspect and eval open the .gguf directly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_util.h"

using namespace quench;
using nlohmann::json;
using test::contains;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

class DiffCli : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new test::TempDir();
    gguf_ = tmp_->file("q4_0.gguf");
    const auto r = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "Q4_0", "--calib", test::demo("sotu-calib.txt"), "--samples", "4", "--seq", "64",
                              "--no-record", "--save-model", gguf_, "--format", "gguf", "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    gguf_metrics_ = json::parse(r.out.substr(r.out.find('{'))).at("metrics");
    ct_ = tmp_->file("w4-ct");
    const auto c = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "W4A16-G16", "--calib", test::demo("sotu-calib.txt"), "--samples", "4",
                            "--seq", "64", "--no-record", "--save-model", ct_, "--format", "compressed-tensors", "--json"});
    ASSERT_EQ(c.code, 0) << c.err;
    ct_metrics_ = json::parse(c.out).at("metrics");
  }
  static void TearDownTestSuite() { delete tmp_; }
  static std::map<std::string, std::string> env() { return {{"XDG_CACHE_HOME", tmp_->file("cache")}}; }
  static test::TempDir* tmp_;
  static std::string gguf_, ct_;
  static json gguf_metrics_, ct_metrics_;
};
test::TempDir* DiffCli::tmp_ = nullptr;
std::string DiffCli::gguf_, DiffCli::ct_;
json DiffCli::gguf_metrics_, DiffCli::ct_metrics_;

TEST_F(DiffCli, PerLayerSqnrAndPerplexities) {
  const auto r = run_cli({"diff", test::demo("sotu-llama"), gguf_, "--text", test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "4", "--json"},
                         env());
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  const auto inspect = json::parse(run_cli({"inspect", test::demo("sotu-llama"), "--json"}).out);
  ASSERT_EQ(j.at("layers").size(), inspect.at("layers").size());
  int q4 = 0;
  for (size_t i = 0; i < j.at("layers").size(); ++i) {
    const json& l = j.at("layers")[i];
    EXPECT_EQ(l.at("name"), inspect.at("layers")[i].at("name"));
    if (l.at("type") == "Q4_0") {
      ++q4;
      const double s = l.at("sqnr_db").get<double>();
      EXPECT_TRUE(std::isfinite(s) && s > 15 && s < 25) << l.dump();
      EXPECT_NEAR(l.at("rel_mse").get<double>(), std::pow(10.0, -s / 10), 1e-9);
      ASSERT_EQ(l.at("outliers").size(), 3u) << l.dump();
      double prev = 1;
      for (const auto& o : l.at("outliers")) {
        EXPECT_GT(o.at("error_share").get<double>(), 0);
        EXPECT_LE(o.at("error_share").get<double>(), prev);
        prev = o.at("error_share").get<double>();
        EXPECT_GT(o.at("abs_max").get<double>(), 0);
      }
    } else {  // kept in the checkpoint's bf16: identical
      EXPECT_TRUE(l.at("exact").get<bool>()) << l.dump();
      EXPECT_TRUE(l.at("sqnr_db").is_null()) << l.dump();
    }
  }
  EXPECT_GE(q4, 24);  // q, k, v, o, gate, up of 6 blocks
  const json& p = j.at("perplexity");
  EXPECT_EQ(p.at("windows"), 4);
  EXPECT_EQ(p.at("tokens"), 4 * 64);
  const double f = p.at("float").get<double>(), q = p.at("quantized").get<double>();
  EXPECT_TRUE(f > 1 && f < 1000 && q > 1 && q < 1000) << p.dump();
  EXPECT_NE(f, q);
  // The converted checkpoint went into the cache.
  EXPECT_TRUE(fs::exists(tmp_->file("cache/quench/gguf"))) << r.err;
}

TEST_F(DiffCli, TableAndErrors) {
  const auto r = run_cli({"diff", test::demo("sotu-llama"), gguf_}, env());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "SQNR dB")) << r.out;
  EXPECT_TRUE(contains(r.out, "model.layers.0.self_attn.q_proj")) << r.out;
  EXPECT_TRUE(contains(r.out, "Q4_0")) << r.out;
  EXPECT_TRUE(contains(r.out, "exact")) << r.out;
  // Another architecture: the first layer that the quantized model lacks is named.
  const auto other = run_cli({"diff", test::demo("sotu-llama"), test::demo("sotu-mamba2")}, env());
  EXPECT_EQ(other.code, 1);
  EXPECT_TRUE(contains(other.err, "has no layer model.embed_tokens")) << other.err;
  const auto usage = run_cli({"diff", test::demo("sotu-llama")});
  EXPECT_EQ(usage.code, 2);
}

TEST_F(DiffCli, InspectAndEvalOpenGguf) {
  const auto i = run_cli({"inspect", gguf_, "--json"}, env());
  ASSERT_EQ(i.code, 0) << i.err;
  const json ij = json::parse(i.out);
  EXPECT_EQ(ij.at("architecture"), "LlamaForCausalLM");
  // The file as stored, not the float copy it was converted into.
  EXPECT_EQ(ij.at("bytes_on_disk").get<int64_t>(), static_cast<int64_t>(std::filesystem::file_size(gguf_)));
  EXPECT_GT(ij.at("gguf_types").value("Q4_0", 0), 0) << ij.at("gguf_types").dump();
  const auto e = run_cli({"eval", gguf_, "--text", test::demo("sotu-2000-2023.txt"), "--ctx", "64", "--max-windows", "4", "--json", "--no-record"}, env());
  ASSERT_EQ(e.code, 0) << e.err;
  const double ppl = json::parse(e.out).at("value").get<double>();
  const auto d = json::parse(run_cli({"diff", test::demo("sotu-llama"), gguf_, "--text", test::demo("sotu-2000-2023.txt"), "--ctx", "64",
                                      "--max-windows", "4", "--json"}, env()).out);
  EXPECT_NEAR(ppl, d.at("perplexity").at("quantized").get<double>(), 1e-6 * ppl);
}

// The export check that follows --save-model: the compressed-tensors export reopens with identical
// logits (integers and F32 scales decode to the very weights Quench evaluated); the GGUF one, whose
// float tensors are stored in F16, agrees on the argmax almost everywhere.
TEST_F(DiffCli, ExportCheckRecordedAfterSaving) {
  EXPECT_EQ(ct_metrics_.at("export_top1_agreement").get<double>(), 1.0) << ct_metrics_.dump();
  EXPECT_EQ(ct_metrics_.at("export_logits_rel_error").get<double>(), 0.0) << ct_metrics_.dump();
  EXPECT_GE(gguf_metrics_.at("export_top1_agreement").get<double>(), 0.98) << gguf_metrics_.dump();
  EXPECT_LT(gguf_metrics_.at("export_logits_rel_error").get<double>(), 0.02) << gguf_metrics_.dump();
  EXPECT_GT(gguf_metrics_.at("export_check_seconds").get<double>(), 0);
  const auto plain = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "W8A16", "--calib", test::demo("sotu-calib.txt"), "--samples", "2",
                              "--seq", "32", "--no-record", "--save-model", tmp_->file("w8-ct"), "--format", "compressed-tensors"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_TRUE(contains(plain.out, "reopened    top-1 agreement 100.00%")) << plain.out;
  const auto skipped = run_cli({"compress", test::demo("sotu-llama"), "--recipe", "W8A16", "--calib", test::demo("sotu-calib.txt"), "--samples", "2",
                                "--seq", "32", "--no-record", "--save-model", tmp_->file("w8-ct2"), "--format", "compressed-tensors",
                                "--no-export-check", "--json"});
  ASSERT_EQ(skipped.code, 0) << skipped.err;
  EXPECT_FALSE(json::parse(skipped.out).at("metrics").contains("export_top1_agreement"));
  EXPECT_EQ(run_cli({"compress", test::demo("sotu-llama"), "--recipe", "W8A16", "--calib", test::demo("sotu-calib.txt"), "--no-export-check"}).code, 2);
}

// A compressed-tensors checkpoint opens like any other: diff names each layer's stored scheme and
// finds the packed 4-bit weights at ≈ 20 dB, the ignored head exact.
TEST_F(DiffCli, CompressedTensorsCheckpointDiff) {
  const auto r = run_cli({"diff", test::demo("sotu-llama"), ct_, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = json::parse(r.out);
  int packed = 0;
  for (const auto& l : j.at("layers")) {
    if (l.at("type") == "int4 g16") {
      ++packed;
      EXPECT_GT(l.at("sqnr_db").get<double>(), 15) << l.dump();
    } else if (l.at("name") == "lm_head") {
      EXPECT_TRUE(l.at("exact").get<bool>()) << l.dump();
    }
  }
  EXPECT_GE(packed, 24);
  const auto table = run_cli({"diff", test::demo("sotu-llama"), ct_});
  EXPECT_TRUE(contains(table.out, "int4 g16")) << table.out;
  const auto i = run_cli({"inspect", ct_, "--json"});
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(json::parse(i.out).at("compressed_tensors"), "pack-quantized") << i.out;
}

}  // namespace
