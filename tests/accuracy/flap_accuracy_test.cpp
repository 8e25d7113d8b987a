// FLAP on the bundled sotu-llama through the real `quench-cli compress`, with the quantization
// tests' window counts (32 calibration windows of 256 tokens, perplexity over the first 64
// windows): at 20% of the MLP channels the saved model is smaller in `inspect` and still
// evaluates, and the fluctuation score beats scoring channels by their weights alone — the
// ablation FLAP's paper makes. docs/results.md has the measured numbers.
#include "accuracy_fixture.h"

namespace quench::test {
namespace {

class FlapAccuracy : public CliAccuracyTest {};

TEST_F(FlapAccuracy, Mlp20SmallerModelEvaluatesAndBeatsWeightOnlyScores) {
  Scratch out;
  const std::string saved = out.file("flap-mlp20");
  auto flap = [&](const char* metric) {
    return recipe({{"name", std::string("flap mlp 20% ") + metric},
                   {"structured", {{"method", "flap"}, {"ratio", 0.2}, {"target", "mlp"}, {"metric", metric}}}});
  };
  const double fl = float_ppl("sotu-llama");
  const double wifv = text_ppl("sotu-llama", flap("wifv"), {"--save-model", saved});
  const double weight = text_ppl("sotu-llama", flap("weight"));
  EXPECT_GT(wifv, fl);
  EXPECT_LT(wifv, fl * 1.12) << "FLAP 20% of MLP channels " << wifv << " vs float " << fl;
  EXPECT_LT(wifv, weight * 0.8) << "fluctuation " << wifv << " vs weight-only " << weight;

  const auto before = run_cli({"inspect", demo("sotu-llama"), "--json"});
  const auto after = run_cli({"inspect", saved, "--json"});
  ASSERT_EQ(after.code, 0) << after.err;
  const int64_t p0 = json::parse(before.out)["parameters"].get<int64_t>(), p1 = json::parse(after.out)["parameters"].get<int64_t>();
  std::cerr << "sotu-llama parameters " << p0 << " → " << p1 << "\n";
  EXPECT_LT(p1, p0 - 600000);
  const auto e = run_cli({"eval", saved, "--text", demo("sotu-2000-2023.txt"), "--max-windows", "64", "--no-record", "--json"});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(json::parse(e.out)["value"].get<double>(), wifv, wifv * 0.005);
}

}  // namespace
}  // namespace quench::test
