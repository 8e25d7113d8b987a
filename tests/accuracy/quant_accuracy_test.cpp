// The orderings the quantization papers claim, reproduced on the bundled demo models through the
// real `quench-cli compress` / `sensitivity` (docs/results.md has the numbers and the commands).
// Kept small for CI: 32 calibration windows of 256 tokens, perplexity over the first 64 windows
// of sotu-2000-2023.txt, 256 calibration digits and the 1,000 test digits; each margin asserted
// is well inside what was measured. Run with QUENCH_THREADS=1 like the rest of the suite.
#include "accuracy_fixture.h"

namespace quench::test {
namespace {

class QuantAccuracy : public CliAccuracyTest {
 protected:
  // W<bits> asymmetric groups of 128 (sotu-llama's down_proj: 688 = 4·172 inputs, so 172 there).
  std::string weights_g128(int bits, const char* method) {
    return recipe({{"name", std::string(method) + "-w" + std::to_string(bits) + "-g128"},
                   {"default", {{"weights", {{"bits", bits}, {"symmetric", false}, {"strategy", "group"}, {"group_size", 128}, {"method", method}}}}},
                   {"overrides", json::array({{{"match", "*.mlp.down_proj"}, {"weights", {{"group_size", 172}}}}})}});
  }
};

// SmoothQuant / compressed-tensors W8A8: int8 per-channel weights, int8 dynamic per-token activations.
TEST_F(QuantAccuracy, SotuLlamaW8A8WithinOnePercentOfFloat) {
  const double f = float_ppl("sotu-llama"), q = text_ppl("sotu-llama", "W8A8");
  EXPECT_LT(std::abs(q - f) / f, 0.01) << "float " << f << ", W8A8 " << q;
}

// llm-compressor's FP8_DYNAMIC: FP8 E4M3 per-channel weights, FP8 per-token dynamic activations.
TEST_F(QuantAccuracy, Fp8DynamicWithinOnePercentOfFloat) {
  const double f = float_ppl("sotu-llama"), q = text_ppl("sotu-llama", "FP8_DYNAMIC");
  EXPECT_LT(std::abs(q - f) / f, 0.01) << "float " << f << ", FP8_DYNAMIC " << q;
}

// W4A4 in E2M1 blocks, without and with an online Hadamard rotation of every projection's input
// (down_proj's 688 inputs are not whole blocks, so it stays float in both): spreading the outlier
// channels over the block lowers the block scales' error (QuaRot; the FP4 papers in METHODS.md).
TEST_F(QuantAccuracy, Nvfp4AndMxfp4W4A4WithHadamardBeatWithout) {
  for (const char* scheme : {"NVFP4", "MXFP4"}) {
    const json rotated = {{"name", std::string(scheme) + "-hadamard"},
                          {"scheme", scheme},
                          {"overrides", json::array({{{"match", "*_proj"}, {"rotation", "hadamard"}},
                                                     {{"match", "*.down_proj"}, {"rotation", "none"}}})}};
    const double plain = text_ppl("sotu-llama", scheme), had = text_ppl("sotu-llama", recipe(rotated));
    EXPECT_LT(had, plain - 0.1) << scheme << " with Hadamard " << had << " vs without " << plain;
  }
}

TEST_F(QuantAccuracy, GptqAndAwqBeatRtnAtW4G128) {
  const double rtn = text_ppl("sotu-llama", weights_g128(4, "rtn"));
  const double gptq = text_ppl("sotu-llama", weights_g128(4, "gptq"));
  const double awq = text_ppl("sotu-llama", weights_g128(4, "awq"), {"--search-samples", "8"});
  EXPECT_LT(gptq, rtn - 0.2) << "GPTQ " << gptq << " vs RTN " << rtn;
  EXPECT_LT(awq, rtn - 0.15) << "AWQ " << awq << " vs RTN " << rtn;
}

TEST_F(QuantAccuracy, GptqBeatsRtnAtW3G128) {
  const double rtn = text_ppl("sotu-llama", weights_g128(3, "rtn"));
  const double gptq = text_ppl("sotu-llama", weights_g128(3, "gptq"));
  EXPECT_LT(gptq, rtn - 1.0) << "GPTQ " << gptq << " vs RTN " << rtn;
}

// DGQ W4A8: int4 groups of 128 whose scales are int8 multiples of a per-channel scale, against the
// RTN W4A8 it replaces (one scale per output channel); both with the same static per-tensor A8.
TEST_F(QuantAccuracy, DgqW4A8BeatsPerChannelRtn) {
  const json a8 = {{"bits", 8}, {"strategy", "tensor"}, {"observer", "minmax"}};
  const json rtn = {{"name", "w4a8-rtn-channel"},
                    {"default", {{"weights", {{"bits", 4}, {"symmetric", false}, {"strategy", "channel"}}}}},
                    {"activations", a8}};
  const json dgq = {{"name", "w4a8-dgq-g128"},
                    {"default", {{"weights", {{"bits", 4}, {"group_size", 128}, {"group_fallback", true}, {"method", "dgq"}}}}},
                    {"activations", a8}};
  const double r = text_ppl("sotu-llama", recipe(rtn)), d = text_ppl("sotu-llama", recipe(dgq));
  EXPECT_LT(d, r - 0.5) << "DGQ " << d << " vs per-channel RTN " << r;
}

// HQQ (data-free, zero points fitted under an lp loss) against min-max RTN on the same asymmetric
// 3-bit per-channel grid (measured 84.70 against 86.38; with groups of 32 the two are within 0.3,
// docs/results.md).
TEST_F(QuantAccuracy, HqqW3BeatsRtn) {
  auto w3 = [](const char* method) {
    return json{{"name", std::string("w3-channel-") + method},
                {"default", {{"weights", {{"bits", 3}, {"symmetric", false}, {"strategy", "channel"}, {"method", method}}}}}};
  };
  const double r = text_ppl("sotu-llama", recipe(w3("rtn"))), h = text_ppl("sotu-llama", recipe(w3("hqq")));
  EXPECT_LT(h, r - 0.5) << "HQQ " << h << " vs RTN " << r;
}

// ZipCache against KIVI at the same 3.0 bits per cached element: KIVI-2 in groups of 32 with no
// full-precision window (2 + 32/32), ZipCache with 37.5 % of the tokens at 4 bits and the rest at 2
// in groups of 128 (0.375·4 + 0.625·2 + 32/128).
// 4-bit float KV caches: every token's keys and values in E2M1 blocks within each head. NVFP4's
// finer blocks and E4M3 scales beat MXFP4's power-of-two scales, both near float (measured 78.80
// and 79.07 against 78.04; KIVI-4's per-channel keys do better still: docs/results.md).
TEST_F(QuantAccuracy, Nvfp4KvCacheBeatsMxfp4NearFloat) {
  const double f = float_ppl("sotu-llama");
  const double nv = text_ppl("sotu-llama", recipe({{"name", "kv-nvfp4"}, {"kv_cache", {{"method", "nvfp4"}}}}));
  const double mx = text_ppl("sotu-llama", recipe({{"name", "kv-mxfp4"}, {"kv_cache", {{"method", "mxfp4"}}}}));
  EXPECT_LT(nv, mx - 0.1) << "NVFP4 KV " << nv << " vs MXFP4 KV " << mx;
  EXPECT_LT((nv - f) / f, 0.02) << "NVFP4 KV " << nv << " vs float " << f;
  EXPECT_LT((mx - f) / f, 0.03) << "MXFP4 KV " << mx << " vs float " << f;
}

TEST_F(QuantAccuracy, ZipCacheBeatsKiviAtThreeBits) {
  const json kivi = {{"name", "kv-kivi2-g32"}, {"kv_cache", {{"method", "kivi"}, {"bits", 2}, {"group_size", 32}, {"residual", 0}}}};
  const json zip = {{"name", "kv-zipcache-4-2"},
                    {"kv_cache", {{"method", "zipcache"}, {"bits", 2}, {"high_bits", 4}, {"salient", 0.375}, {"group_size", 128}}}};
  const double k = text_ppl("sotu-llama", recipe(kivi)), z = text_ppl("sotu-llama", recipe(zip));
  EXPECT_LT(z, k - 0.5) << "ZipCache " << z << " vs KIVI " << k;
}

// RepQ-ViT at W4A4 on mnist-vit: the same 4-bit per-channel weights and 4-bit static per-tensor
// activations everywhere (the attention probabilities included), without and with its two parts:
// post-LayerNorm ranges reparameterized into one per-tensor scale, and the probabilities on the
// log√2 grid instead of an evenly spaced one.
TEST_F(QuantAccuracy, RepqVitBeatsPerTensorW4A4) {
  const json a4 = {{"bits", 4}, {"symmetric", false}, {"strategy", "tensor"}, {"observer", "minmax"}};
  const json plain = {{"name", "w4a4-per-tensor"},
                      {"default", {{"weights", {{"bits", 4}, {"strategy", "channel"}}}}},
                      {"activations", a4},
                      {"points", json::array({{{"match", "*:probs"}, {"activations", a4}}})}};
  json repq = plain;
  repq["name"] = "w4a4-repq-vit";
  repq["repq"] = true;
  repq["points"] = json::array({{{"match", "*:probs"}, {"activations", {{"type", "log_sqrt2"}, {"bits", 4}}}}});
  const double p = image_top1("mnist-vit", recipe(plain)), r = image_top1("mnist-vit", recipe(repq));
  EXPECT_GT(r, p + 0.01) << "RepQ-ViT " << r << " vs per-tensor " << p;
}

TEST_F(QuantAccuracy, SmoothQuantImprovesStaticW8A8) {
  const json plain = {{"name", "w8a8-static"},
                      {"default", {{"weights", {{"bits", 8}, {"strategy", "channel"}}}}},
                      {"activations", {{"bits", 8}, {"strategy", "tensor"}, {"observer", "minmax"}}}};
  json smooth = plain;
  smooth["name"] = "w8a8-static-smoothquant";
  smooth["smoothquant"] = {{"alpha", 0.5}};
  const double p = text_ppl("sotu-llama", recipe(plain)), s = text_ppl("sotu-llama", recipe(smooth));
  EXPECT_LT(s, p - 0.05) << "SmoothQuant " << s << " vs static W8A8 " << p;
}

// Quamba: percentile-clipped scan input and a Hadamard-rotated out_proj input against naive static
// per-tensor W8A8 (every Linear's weights and input at one min-max scale per tensor).
TEST_F(QuantAccuracy, QuambaBeatsNaiveW8A8OnMamba2) {
  const json naive = {{"name", "w8a8-static-naive"},
                      {"default", {{"weights", {{"bits", 8}, {"strategy", "tensor"}}}}},
                      {"activations", {{"bits", 8}, {"strategy", "tensor"}, {"observer", "minmax"}}}};
  const double n = text_ppl("sotu-mamba2", recipe(naive)), q = text_ppl("sotu-mamba2", "quamba");
  EXPECT_LT(q, n - 0.25) << "Quamba " << q << " vs naive W8A8 " << n;
}

// Quamba2 (sort-and-cluster reordering with grouped scales for x, B and C; GPTQ W4 g128 on in_proj
// and out_proj) against Quamba's per-tensor recipe with its weights at 4 bits; its W8A8 against
// float (paper: Quamba2-8B W4A8 −1.6% accuracy).
TEST_F(QuantAccuracy, Quamba2W4A8BeatsQuambaPerTensorW4A8) {
  const json quamba_w4 = {{"name", "quamba-w4a8"}, {"preset", "quamba"}, {"default", {{"weights", {{"bits", 4}}}}}};
  const double q = text_ppl("sotu-mamba2", recipe(quamba_w4)), q2 = text_ppl("sotu-mamba2", "quamba2-w4a8");
  EXPECT_LT(q2, q - 1.0) << "Quamba2 W4A8 " << q2 << " vs Quamba per-tensor W4A8 " << q;
}

TEST_F(QuantAccuracy, Quamba2W8A8WithinOnePercentOfFloat) {
  const double f = float_ppl("sotu-mamba2"), q2 = text_ppl("sotu-mamba2", "quamba2-w8a8");
  EXPECT_LT(q2, f * 1.01) << "Quamba2 W8A8 " << q2 << " vs float " << f;
}

TEST_F(QuantAccuracy, VitW8A8WithinHalfAPointOfFloat) {
  const double f = float_top1("mnist-vit"), q = image_top1("mnist-vit", "W8A8");
  EXPECT_LE(std::abs(q - f), 0.005) << "float " << f << ", W8A8 " << q;
}

TEST_F(QuantAccuracy, ResnetW8A8WithinHalfAPointOfFloat) {
  const double f = float_top1("mnist-resnet"), q = image_top1("mnist-resnet", "W8A8");
  EXPECT_LE(std::abs(q - f), 0.005) << "float " << f << ", W8A8 " << q;
}

// Per-layer sensitivity (KL from the float model on 4 windows: per-token KL is far steadier than a
// perplexity difference) at W2/W3/W4 in groups of 16, the knapsack's suggestion at the average bits
// of uniform W3, then both compressed and evaluated on the same 64 windows. Measured: uniform W3
// 82.598, mixed (35×W3, 4×W4, 3×W2; 4.0 bits) 82.272. With ranked perplexity changes on 16 windows
// or per block the suggestion was no better than uniform (docs/results.md).
TEST_F(QuantAccuracy, MixedPrecisionSuggestionBeatsUniformAtTheSameBits) {
  const std::string suggestion = tmp_.file("mixed.json");
  const json s = run({"sensitivity", demo("sotu-llama"), "--setting", "W3A16-G16", "--candidates", "W2A16-G16,W4A16-G16", "--eval",
                      demo("sotu-2000-2023.txt"), "--max-windows", "4", "--metric", "kl", "--budget", "4.0", "--suggest", suggestion});
  ASSERT_TRUE(s.contains("suggestion"));
  EXPECT_EQ(s["ranking"].size(), 42u);  // 6 blocks × 7 Linear layers; the tied head is left out
  const double bits = s["suggestion"]["average_bits"].get<double>();
  EXPECT_LE(bits, 4.0 + 1e-9);
  const double uniform = text_ppl("sotu-llama", "W3A16-G16"), mixed = text_ppl("sotu-llama", suggestion);
  EXPECT_LT(mixed, uniform - 0.15) << "mixed " << mixed << " (" << bits << " bits) vs uniform W3 g16 " << uniform;
}

}  // namespace
}  // namespace quench::test
