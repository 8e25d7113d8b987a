// The orderings the pruning and low-rank papers claim, reproduced on the bundled demo models
// through the real `quench-cli compress` (docs/results.md, "Pruning and low-rank", has the numbers
// and the commands). Same small window counts as the quantization tests: 32 calibration windows
// of 256 tokens, perplexity over the first 64 windows of sotu-2000-2023.txt. Each margin asserted
// is well inside what was measured.
#include "accuracy_fixture.h"

namespace quench::test {
namespace {

class PruneAccuracy : public CliAccuracyTest {
 protected:
  std::string prune(const json& setting) {
    return recipe({{"name", "prune " + setting.dump()}, {"default", {{"prune", setting}}}});
  }
  std::string lowrank(const char* method, double ratio) {
    return recipe({{"name", std::string("lowrank ") + method}, {"default", {{"lowrank", {{"method", method}, {"ratio", ratio}}}}}});
  }
};

// Wanda (LLaMA-2-7B: 6.42) beats magnitude (14.89); SparseGPT (6.51) is close to Wanda.
TEST_F(PruneAccuracy, Unstructured50WandaBeatsMagnitudeAndSparseGptMatchesWanda) {
  const double mag = text_ppl("sotu-llama", prune({{"sparsity", 0.5}, {"method", "magnitude"}}));
  const double wanda = text_ppl("sotu-llama", prune({{"sparsity", 0.5}, {"method", "wanda"}}));
  const double sgpt = text_ppl("sotu-llama", prune({{"sparsity", 0.5}, {"method", "sparsegpt"}}));
  EXPECT_LT(wanda, mag - 1.0) << "Wanda " << wanda << " vs magnitude " << mag;
  EXPECT_LT(sgpt, wanda * 1.02) << "SparseGPT " << sgpt << " vs Wanda " << wanda;
}

// 2:4 (LLaMA-2-7B: magnitude 54.59, SparseGPT 10.17).
TEST_F(PruneAccuracy, TwoFourSparseGptBeatsMagnitude) {
  const double mag = text_ppl("sotu-llama", prune({{"pattern", "2:4"}, {"method", "magnitude"}}));
  const double sgpt = text_ppl("sotu-llama", prune({{"pattern", "2:4"}, {"method", "sparsegpt"}}));
  EXPECT_LT(sgpt, mag - 5.0) << "SparseGPT " << sgpt << " vs magnitude " << mag;
}

// The same rank in every layer (ratio 0.6 of each layer's parameters); LLaMA-7B at 20% removed:
// SVD 20061, ASVD 11.14, SVD-LLM 7.94.
TEST_F(PruneAccuracy, ActivationAwareSvdBeatsPlainSvdAtTheSameRank) {
  const double svd = text_ppl("sotu-llama", lowrank("svd", 0.6));
  const double asvd = text_ppl("sotu-llama", lowrank("asvd", 0.6));
  const double llm = text_ppl("sotu-llama", lowrank("svd-llm", 0.6));
  EXPECT_LT(asvd, svd - 2.0) << "ASVD " << asvd << " vs SVD " << svd;
  EXPECT_LT(llm, svd * 0.9) << "SVD-LLM " << llm << " vs SVD " << svd;
}

// Palu: the key and value projections at half their cache width (rank 64 of 128), by group-head
// whitened SVD with the rank split over head groups, against plain SVD of each projection at the
// same rank (paper: Llama-2-7B at 50% KV compression, perplexity 5.47 → 6.02 with group-head
// decomposition, where per-matrix SVD without whitening degrades far more).
TEST_F(PruneAccuracy, PaluBeatsPlainSvdAtHalfTheKvRank) {
  auto kv = [&](const json& lowrank) {
    return recipe({{"name", "kv " + lowrank.dump()},
                   {"overrides", {{{"match", {"*.self_attn.k_proj", "*.self_attn.v_proj"}}, {"lowrank", lowrank}}}}});
  };
  const double svd = text_ppl("sotu-llama", kv({{"method", "svd"}, {"rank", 64}}));
  const double palu = text_ppl("sotu-llama", kv({{"method", "palu"}, {"ratio", 0.5}, {"group_heads", 2}}));
  EXPECT_LT(palu, svd - 1.0) << "Palu " << palu << " vs SVD " << svd;
}

// ELSA's claim on our ViT: layer-wise N:M (each encoder linear's pattern chosen from {1:4, 2:4,
// 4:4} by the knapsack over measured KL on the calibration digits, at least 50% sparse overall)
// beats uniform 2:4 on the test digits. DeiT-B: uniform 2:4 81.67 at 9.2 GFLOPs, ELSA 81.54 at 6.9.
TEST_F(PruneAccuracy, VitLayerwiseNmBeatsUniformTwoFourAtTheSameSparsity) {
  const std::string suggestion = tmp_.file("layerwise.json");
  const std::string calib_images = demo("mnist/calib-images-idx3-ubyte.gz"), calib_labels = demo("mnist/calib-labels-idx1-ubyte.gz");
  const json s = run({"sensitivity", demo("mnist-vit"), "--setting", R"({"name": "2:4", "prune": {"pattern": "2:4", "method": "wanda"}})",
                      "--candidate", R"({"name": "1:4", "prune": {"pattern": "1:4", "method": "wanda"}})", "--candidate",
                      R"({"name": "4:4", "prune": {"pattern": "4:4", "method": "wanda"}})", "--layers", "vit.encoder.*", "--metric", "kl",
                      "--eval-images", calib_images, "--eval-labels", calib_labels, "--max-images", "256", "--calib-images", calib_images,
                      "--samples", "256", "--budget-sparsity", "0.5", "--suggest", suggestion});
  ASSERT_TRUE(s.contains("suggestion"));
  const double sparsity = s["suggestion"]["average_sparsity"].get<double>();
  EXPECT_GE(sparsity, 0.5 - 1e-9);
  const std::string uniform_recipe =
      recipe({{"name", "uniform 2:4"}, {"overrides", {{{"match", "vit.encoder.*"}, {"prune", {{"pattern", "2:4"}, {"method", "wanda"}}}}}}});
  const double uniform = image_top1("mnist-vit", uniform_recipe), layerwise = image_top1("mnist-vit", suggestion);
  std::cerr << "layer-wise N:M at sparsity " << sparsity << ": top-1 " << layerwise << "; uniform 2:4: " << uniform << "\n";
  EXPECT_GT(layerwise, uniform + 0.002) << "layer-wise " << layerwise << " vs uniform 2:4 " << uniform;
}

// Per-layer ranks under one parameter budget (the Palu/FLORA idea, with our sensitivity + knapsack):
// each linear tries SVD-LLM at 0.4, 0.6 and 0.8 of its parameters, KL from the float model on two
// short calibration windows ranks the damage, and the knapsack fills the budget of uniform 0.6
// (9.6 bits per weight at 16-bit factors). It beats the same rank everywhere.
TEST_F(PruneAccuracy, RankSearchBeatsUniformRankAtTheSameBudget) {
  const std::string suggestion = tmp_.file("ranks.json");
  auto lowrank = [](const char* name, double ratio) {
    return json({{"name", name}, {"lowrank", {{"method", "svd-llm"}, {"ratio", ratio}}}}).dump();
  };
  const json s = run({"sensitivity", demo("sotu-llama"), "--setting", lowrank("r0.6", 0.6), "--candidate", lowrank("r0.4", 0.4), "--candidate",
                      lowrank("r0.8", 0.8), "--metric", "kl", "--eval", demo("sotu-calib.txt"), "--ctx", "128", "--max-windows", "2", "--calib",
                      demo("sotu-calib.txt"), "--samples", "8", "--seq", "128", "--budget", "9.6", "--suggest", suggestion});
  ASSERT_TRUE(s.contains("suggestion"));
  auto compress = [&](const std::string& recipe_arg) {
    return run({"compress", demo("sotu-llama"), "--recipe", recipe_arg, "--calib", demo("sotu-calib.txt"), "--samples", "32", "--seq", "256",
                "--eval", demo("sotu-2000-2023.txt"), "--max-windows", "64"});
  };
  const json uniform = compress(recipe({{"name", "uniform svd-llm 0.6"}, {"default", {{"lowrank", {{"method", "svd-llm"}, {"ratio", 0.6}}}}}}));
  const json searched = compress(suggestion);
  const double pu = uniform["metrics"]["perplexity"], ps = searched["metrics"]["perplexity"];
  const double bu = uniform["metrics"]["bits_per_weight"], bs = searched["metrics"]["bits_per_weight"];
  std::cerr << "rank search: perplexity " << ps << " at " << bs << " bits/weight; uniform 0.6: " << pu << " at " << bu << "\n";
  EXPECT_LT(bs, bu * 1.01) << "the same budget, up to the uniform ranks' rounding down";
  EXPECT_LT(ps, pu - 3.0) << "searched ranks " << ps << " vs uniform " << pu;
}

}  // namespace
}  // namespace quench::test
