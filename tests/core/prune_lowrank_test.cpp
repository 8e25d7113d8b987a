// Pruning and low-rank factorization: the mechanics on synthetic layers (exact mask counts, the
// output-error orderings the papers claim on the same inputs, SVD-LLM's optimality), the recipe
// errors naming key and layer, the size accounting, and the pipeline's per-layer results — with
// the size estimate equal to what compress() actually stores.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "core/compress/compress.h"
#include "core/compress/gptq.h"
#include "core/compress/lowrank.h"
#include "core/compress/lowrank_method.h"
#include "core/compress/mixed_precision.h"
#include "core/compress/prune_method.h"
#include "core/compress/sensitivity.h"
#include "core/compress/size_estimate.h"
#include "core/compress/sparsegpt.h"
#include "core/compress/wanda.h"
#include "core/models/registry.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;

// Correlated inputs with a few loud channels, like a transformer's activations.
at::Tensor synthetic_inputs(int64_t n, int64_t in, uint64_t seed) {
  at::manual_seed(seed);
  const auto mix = at::randn({in, in}) / std::sqrt(static_cast<double>(in));
  auto x = at::randn({n, in}).matmul(mix + at::eye(in));
  x.narrow(1, 0, 4).mul_(10.0);
  return x;
}

double output_error(const at::Tensor& w2, const at::Tensor& w, const at::Tensor& x) {
  const auto y = x.matmul(w.t()), y2 = x.matmul(w2.t());
  return (y2 - y).pow(2).sum().item<double>() / y.pow(2).sum().item<double>();
}

PruneSetting prune(const std::string& m, double sparsity, int n = 0, int mm = 0) {
  PruneSetting p;
  p.method = m;
  p.sparsity = sparsity;
  p.n = n;
  p.m = mm;
  if (m == "sparsegpt") p.options["block_size"] = 32;
  return p;
}

struct Layer1 {
  at::Tensor w, x, h, norms;
};
Layer1 layer1(int64_t out = 48, int64_t in = 64) {
  Layer1 l;
  l.x = synthetic_inputs(512, in, 7);
  at::manual_seed(8);
  l.w = at::randn({out, in});
  HessianAccumulator acc(in);
  acc.add(l.x);
  l.h = acc.hessian();
  l.norms = l.x.pow(2).sum(0).sqrt();
  return l;
}

PruneOutcome run_prune(const Layer1& l, const PruneSetting& p) {
  if (p.method == "magnitude") return prune_by_score(l.w, p);
  if (p.method == "wanda") return prune_by_score(l.w, p, l.norms);
  if (p.method == "sparsegpt") return sparsegpt_prune(l.w, l.h, p, "test");
  ADD_FAILURE() << "no such method " << p.method;
  return {};
}

// Each pruning method is declared once (prune_method.h) and the recipe reads names and options
// from that table: every method round-trips through its name, and an option is refused for the
// methods that do not own it.
TEST(PruneMethods, RegistryDrivesTheRecipe) {
  std::set<std::string> names;
  for (const std::string id : {"magnitude", "wanda", "sparsegpt"}) {
    const PruneMethodInfo& m = prune_method(id);
    EXPECT_EQ(m.name, id);
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_EQ(find_prune_method(m.name), &m);
    const PruneSetting p = parse_prune({{"method", m.name}, {"sparsity", 0.5}}, "prune");
    EXPECT_EQ(p.method, id);
    EXPECT_EQ(p.to_json()["method"], m.name);
    for (const MethodOption& o : m.options) EXPECT_EQ(p.to_json()[o.key], o.fallback) << m.name << " " << o.key;
  }
  EXPECT_EQ(prune_methods().size(), names.size());
  EXPECT_EQ(find_prune_method("obs"), nullptr);
  try {
    parse_prune({{"method", "wanda"}, {"sparsity", 0.5}, {"damp", 0.1}}, "prune");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("applies to method \"sparsegpt\", not \"wanda\""), std::string::npos) << e.what();
  }
  // Unstructured counts as each method's mask keeps them; N:M the same for all.
  PruneSetting half;
  half.sparsity = 0.5;
  for (const PruneMethodInfo* m : prune_methods()) {
    half.method = m->name;
    EXPECT_EQ(pruned_weights(half, 8, 256), 8 * 128) << m->name;
  }
  half.n = 2, half.m = 4;
  EXPECT_EQ(pruned_weights(half, 8, 256), 8 * 128);
}

// Low-rank methods are declared once too (lowrank_method.h): each round-trips through its name with
// its options' defaults, a method's option is refused for the others, energy only where the method
// says it can size a rank by it, and a setting's method drops the old one's options.
TEST(LowRankMethods, RegistryDrivesTheRecipe) {
  std::set<std::string> names;
  for (const LowRankMethodInfo* m : lowrank_methods()) {
    EXPECT_TRUE(names.insert(m->name).second) << m->name;
    EXPECT_EQ(find_lowrank_method(m->name), m);
    const LowRankSetting l = parse_lowrank({{"method", m->name}, {"ratio", 0.5}}, "lowrank");
    EXPECT_EQ(l.method, m->name);
    const json j = l.to_json();
    EXPECT_EQ(j["method"], m->name);
    for (const MethodOption& o : m->options) EXPECT_EQ(j[o.key], o.fallback) << m->name << " " << o.key;
    EXPECT_EQ(parse_lowrank(j, "lowrank").to_json(), j) << m->name;
    EXPECT_EQ(l.needs_data(), m->data != LowRankData::None) << m->name;
    if (m->by_energy) {
      EXPECT_EQ(parse_lowrank({{"method", m->name}, {"energy", 0.9}}, "lowrank").energy, 0.9);
    } else {
      try {
        parse_lowrank({{"method", m->name}, {"energy", 0.9}}, "lowrank");
        ADD_FAILURE() << m->name << " took an energy";
      } catch (const RecipeError& e) {
        EXPECT_EQ(e.key(), "lowrank.energy") << e.what();
      }
    }
  }
  for (const char* n : {"svd", "asvd", "svd-llm", "palu"}) EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(find_lowrank_method("tucker"), nullptr);
  try {
    parse_lowrank({{"method", "svd"}, {"rank", 8}, {"alpha", 1.0}}, "lowrank");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("alpha: applies to method \"asvd\", not \"svd\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_lowrank({{"method", "palu"}, {"rank", 8}, {"group_heads", 2}}, "lowrank").describe(), "rank 8 palu 2 heads per group");
}

TEST(PruneTest, MasksKeepExactlyWhatTheSizeEstimateCounts) {
  const Layer1 l = layer1(48, 64);
  for (const std::string m : {"magnitude", "wanda", "sparsegpt"}) {
    for (double p : {0.0, 0.3, 0.5, 0.9}) {
      const auto s = prune(m, p);
      const auto o = run_prune(l, s);
      EXPECT_EQ(48 * 64 - o.mask.sum().item<int64_t>(), pruned_weights(s, 48, 64)) << m << " " << p;
      EXPECT_EQ((o.weight.ne(0) & o.mask.logical_not()).sum().item<int64_t>(), 0) << "a pruned weight is not zero";
    }
    for (auto [n, mm] : {std::pair{2, 4}, {1, 4}, {4, 8}, {4, 4}}) {
      const auto s = prune(m, 0, n, mm);
      const auto o = run_prune(l, s);
      // every group of M consecutive inputs of a row keeps exactly N
      EXPECT_TRUE(o.mask.reshape({48, 64 / mm, mm}).sum(-1).eq(n).all().item<bool>()) << m << " " << n << ":" << mm;
      EXPECT_EQ(48 * 64 - o.mask.sum().item<int64_t>(), pruned_weights(s, 48, 64));
    }
  }
  // Wanda prunes the same number in every row.
  const auto wanda = run_prune(l, prune("wanda", 0.5));
  EXPECT_TRUE(wanda.mask.sum(1).eq(32).all().item<bool>());
}

TEST(PruneTest, WandaBeatsMagnitudeAndSparseGptBeatsBoth) {
  // Correlated input channels of very different scales (log-normal), as in a transformer: Wanda's
  // per-channel norm sees the scales magnitude ignores, SparseGPT's Hessian the correlations too.
  Layer1 l = layer1();
  at::manual_seed(9);
  l.x = at::randn({512, 64}).matmul(at::randn({64, 64}) / 8.0 + at::eye(64)) * at::randn({1, 64}).exp();
  HessianAccumulator acc(64);
  acc.add(l.x);
  l.h = acc.hessian();
  l.norms = l.x.pow(2).sum(0).sqrt();
  for (auto [n, mm, p] : {std::tuple{0, 0, 0.5}, {2, 4, 0.0}, {4, 8, 0.0}}) {
    const double mag = output_error(run_prune(l, prune("magnitude", p, n, mm)).weight, l.w, l.x);
    const double wanda = output_error(run_prune(l, prune("wanda", p, n, mm)).weight, l.w, l.x);
    const double sgpt = output_error(run_prune(l, prune("sparsegpt", p, n, mm)).weight, l.w, l.x);
    EXPECT_LT(wanda, mag * 0.8) << n << ":" << mm << " " << p;
    EXPECT_LT(sgpt, wanda * 0.9) << n << ":" << mm << " " << p;
  }
}

TEST(PruneTest, SparseGptAtZeroSparsityChangesNothing) {
  const Layer1 l = layer1();
  const auto o = run_prune(l, prune("sparsegpt", 0.0));
  EXPECT_TRUE(o.mask.all().item<bool>());
  EXPECT_LT((o.weight - l.w).abs().max().item<double>(), 1e-4);
}

TEST(LowRankTest, ActivationAwareBeatsPlainSvdAndSvdLlmIsOptimal) {
  const Layer1 l = layer1(48, 64);
  auto err = [&](const std::string& m, int64_t r) {
    LowRankSetting s;
    s.method = m;
    s.rank = r;
    const auto f = lowrank_factorize(l.w, s, "test", l.h, l.x.abs().mean(0));
    EXPECT_EQ(f.a.sizes(), (std::vector<int64_t>{48, r}));
    EXPECT_EQ(f.b.sizes(), (std::vector<int64_t>{r, 64}));
    return output_error(f.dense(), l.w, l.x);
  };
  for (int64_t r : {8, 16, 32}) {
    const double svd = err("svd", r), asvd = err("asvd", r), llm = err("svd-llm", r);
    EXPECT_LT(asvd, svd) << r;
    EXPECT_LE(llm, asvd * (1 + 1e-6)) << r;  // SVD-LLM minimizes ‖(W − W′)X‖ over rank r
  }
  // Full rank is exact for every method.
  for (const std::string m : {"svd", "asvd", "svd-llm"}) EXPECT_LT(err(m, 48), 1e-8);
  // SVD-LLM's truncation loss is the sum of the dropped σ² of W·L, L Lᵀ = XᵀX.
  const at::Tensor C = l.x.t().to(at::kDouble).matmul(l.x.to(at::kDouble));
  const at::Tensor sv = at::linalg_svdvals(l.w.to(at::kDouble).matmul(at::linalg_cholesky(C)));
  LowRankSetting s;
  s.method = "svd-llm";
  s.rank = 16;
  const auto f = lowrank_factorize(l.w, s, "test", C.to(at::kFloat));
  const double loss = (l.x.to(at::kDouble).matmul((f.dense().to(at::kDouble) - l.w.to(at::kDouble)).t())).pow(2).sum().item<double>();
  EXPECT_NEAR(loss / sv.narrow(0, 16, 32).pow(2).sum().item<double>(), 1.0, 1e-3);
}

// Palu: head groups factored on their own (A block diagonal), the rank split by whitened σ², and
// the truncation loss is the sum over groups of what each group drops.
TEST(LowRankTest, PaluFactorsHeadGroupsAndSplitsTheRankByTruncationLoss) {
  Layer1 l = layer1(64, 64);  // 4 heads of 16 rows, 2 heads per group
  l.w.narrow(0, 32, 32).mul_(4.0);  // the second group carries more: it should get more of the rank
  LowRankSetting s;
  s.method = "palu";
  s.options["group_heads"] = 2;
  s.rank = 24;
  const auto f = lowrank_factorize(l.w, s, "test", l.h, {}, 16);
  ASSERT_EQ(f.group_ranks.size(), 2u);
  EXPECT_EQ(f.group_ranks[0] + f.group_ranks[1], 24);
  EXPECT_GT(f.group_ranks[1], f.group_ranks[0]);
  EXPECT_EQ(f.parameters(), 32 * 24 + 24 * 64);
  // A is block diagonal: group 0's rows read only its own latent columns.
  EXPECT_EQ(f.a.narrow(0, 0, 32).narrow(1, f.group_ranks[0], f.group_ranks[1]).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(f.a.narrow(0, 32, 32).narrow(1, 0, f.group_ranks[0]).abs().max().item<float>(), 0.0f);
  // Loss = Σ dropped σ² of each group's W_g·L.
  const at::Tensor L = at::linalg_cholesky(l.h.to(at::kDouble));
  double dropped = 0;
  for (int g = 0; g < 2; ++g) {
    const at::Tensor sv = at::linalg_svdvals(l.w.narrow(0, 32 * g, 32).to(at::kDouble).matmul(L));
    dropped += sv.narrow(0, f.group_ranks[g], 32 - f.group_ranks[g]).pow(2).sum().item<double>();
  }
  const at::Tensor d = f.dense().to(at::kDouble) - l.w.to(at::kDouble);
  const double loss = d.matmul(l.h.to(at::kDouble)).mul(d).sum().item<double>();
  EXPECT_NEAR(loss / dropped, 1.0, 1e-3);
  // Any other split of the same rank loses more.
  for (int64_t r0 : {4, 8, 12, 16}) {
    if (r0 == f.group_ranks[0]) continue;
    double other = 0;
    for (int g = 0; g < 2; ++g) {
      const int64_t k = g == 0 ? r0 : 24 - r0;
      const at::Tensor sv = at::linalg_svdvals(l.w.narrow(0, 32 * g, 32).to(at::kDouble).matmul(L));
      other += sv.narrow(0, k, 32 - k).pow(2).sum().item<double>();
    }
    EXPECT_GT(other, dropped) << r0;
  }
  // Rows that do not split into head groups, or too small a rank, are errors naming the layer.
  EXPECT_THROW(lowrank_factorize(l.w, s, "test", l.h, {}, 24), Error);
  s.rank = 1;
  EXPECT_THROW(lowrank_factorize(l.w, s, "test", l.h, {}, 16), Error);
}

// The QR-reduced SVD gives the same decomposition as LAPACK's for wide, tall and square
// matrices, rank-deficient ones included, and refuses non-finite input by the layer's name.
TEST(LowRankTest, ThinSvdOfWideTallAndRankDeficientMatricesReconstructs) {
  at::manual_seed(3);
  const at::TensorOptions d = at::TensorOptions().dtype(at::kDouble);
  const std::vector<at::Tensor> cases = {at::randn({16, 96}, d), at::randn({96, 16}, d), at::randn({24, 24}, d),
                                         at::randn({20, 3}, d).matmul(at::randn({3, 64}, d))};
  for (const at::Tensor& m : cases) {
    auto [U, S, Vh] = quench::thin_svd(m, "layers.0.k_proj");
    const int64_t k = std::min(m.size(0), m.size(1));
    ASSERT_EQ(U.sizes(), (std::vector<int64_t>{m.size(0), k}));
    ASSERT_EQ(Vh.sizes(), (std::vector<int64_t>{k, m.size(1)}));
    EXPECT_LT((U.matmul(S.diag()).matmul(Vh) - m).abs().max().item<double>(), 1e-10 * m.abs().max().item<double>());
    EXPECT_LT((S - at::linalg_svdvals(m)).abs().max().item<double>(), 1e-10 * S[0].item<double>());
    EXPECT_LT((U.t().matmul(U) - at::eye(k, d)).abs().max().item<double>(), 1e-10);
    EXPECT_TRUE((S.narrow(0, 0, k - 1) >= S.narrow(0, 1, k - 1)).all().item<bool>());
  }
  at::Tensor bad = at::randn({8, 32}, d);
  bad[2][5] = std::numeric_limits<double>::quiet_NaN();
  try {
    quench::thin_svd(bad, "model.layers.7.self_attn.v_proj");
    FAIL() << "a NaN was factored";
  } catch (const quench::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.7.self_attn.v_proj"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("non-finite"), std::string::npos) << e.what();
  }
}

TEST(LowRankTest, EnergyAndRatioPickTheRank) {
  EXPECT_EQ(rank_for_energy(at::tensor({3.0, 2.0, 1.0}), 9.0 / 14), 1);
  EXPECT_EQ(rank_for_energy(at::tensor({3.0, 2.0, 1.0}), 9.5 / 14), 2);
  EXPECT_EQ(rank_for_energy(at::tensor({1.0, 3.0, 2.0}), 1.0), 3);
  LowRankSetting s;
  s.ratio = 0.5;
  EXPECT_EQ(s.rank_for(256, 256), 64);  // ⌊0.5·256·256/512⌋
}

Model& sotu_llama() {
  static auto m = load_model(test::demo("sotu-llama"));
  return *m;
}
Model& vit_tiny() {
  static auto m = load_model(test::fixture("hf-tiny/vit-tiny"));
  return *m;
}

std::string error_of(const json& j, Model& model, std::string* key = nullptr, std::string* layer = nullptr) {
  try {
    resolve(Recipe::parse(j, "r.json"), model);
  } catch (const RecipeError& e) {
    if (key) *key = e.key();
    if (layer) *layer = e.layer();
    return e.what();
  }
  return "";
}

TEST(PruneRecipe, PaluAppliesToKeyAndValueProjectionsInWholeHeadGroups) {
  Model& m = sotu_llama();  // k_proj, v_proj: [128, 256], 4 key-value heads of 32
  std::string key, layer, e;
  const json kv = {{"match", {"*.self_attn.k_proj", "*.self_attn.v_proj"}}, {"lowrank", {{"method", "palu"}, {"ratio", 0.5}, {"group_heads", 2}}}};
  const auto plan = resolve(Recipe::parse({{"overrides", {kv}}}), m);
  const LayerPlan* k = plan.find("model.layers.0.self_attn.k_proj");
  ASSERT_TRUE(k && k->lowrank);
  EXPECT_EQ(k->lowrank->rank_for(128, 256), 64);  // half the cache width
  EXPECT_EQ(k->lowrank->describe(), "ratio 0.5 palu 2 heads per group");
  EXPECT_FALSE(plan.find("model.layers.0.self_attn.q_proj")->lowrank);
  e = error_of({{"overrides", {{{"match", "*.self_attn.q_proj"}, {"lowrank", {{"method", "palu"}, {"rank", 64}}}}}}}, m, &key, &layer);
  EXPECT_NE(e.find("palu factors the key and value projections of attention; model.layers.0.self_attn.q_proj is not one of"), std::string::npos) << e;
  EXPECT_EQ(layer, "model.layers.0.self_attn.q_proj");
  json bad = kv;
  bad["lowrank"]["group_heads"] = 3;
  e = error_of({{"overrides", {bad}}}, m, &key);
  EXPECT_NE(e.find("128 outputs, which do not split into groups of 3 heads of 32"), std::string::npos) << e;
  EXPECT_EQ(key, "overrides[0].lowrank.method");
  bad["lowrank"] = {{"method", "palu"}, {"rank", 1}, {"group_heads", 1}};
  e = error_of({{"overrides", {bad}}}, m);
  EXPECT_NE(e.find("leaves less than one per head group (4 groups)"), std::string::npos) << e;
  e = error_of({{"default", {{"lowrank", {{"method", "svd"}, {"rank", 8}, {"group_heads", 2}}}}}}, m);
  EXPECT_NE(e.find("group_heads: applies to method \"palu\""), std::string::npos) << e;
}

TEST(PruneRecipe, InvalidSettingsAreErrorsNamingKeyAndLayer) {
  Model& m = sotu_llama();
  std::string key, layer, e;
  e = error_of({{"default", {{"prune", {{"sparsity", 1.0}}}}}}, m, &key);
  EXPECT_NE(e.find("default.prune.sparsity: 1.0 must be at least 0 and below 1"), std::string::npos) << e;
  EXPECT_EQ(key, "default.prune.sparsity");
  e = error_of({{"overrides", {{{"match", "*.mlp.*"}, {"prune", {{"pattern", "4:2"}}}}}}}, m, &key);
  EXPECT_NE(e.find("overrides[0].prune.pattern: \"4:2\": N (4 kept) is larger than M (2)"), std::string::npos) << e;
  e = error_of({{"default", {{"prune", {{"pattern", "2-4"}}}}}}, m);
  EXPECT_NE(e.find("must be \"N:M\""), std::string::npos) << e;
  e = error_of({{"default", {{"prune", {{"method", "wanda"}}}}}}, m);
  EXPECT_NE(e.find("prune needs a sparsity"), std::string::npos) << e;
  e = error_of({{"default", {{"prune", {{"sparsity", 0.5}, {"pattern", "2:4"}}}}}}, m);
  EXPECT_NE(e.find("not both"), std::string::npos) << e;
  // An override's pattern replaces the default's sparsity rather than clashing with it.
  const auto plan = resolve(Recipe::parse({{"default", {{"prune", {{"sparsity", 0.5}}}}},
                                           {"overrides", {{{"match", "*.mlp.*"}, {"prune", {{"pattern", "2:4"}}}}}}}),
                            m);
  EXPECT_EQ(plan.find("model.layers.0.mlp.up_proj")->prune->m, 4);
  EXPECT_EQ(plan.find("model.layers.0.self_attn.q_proj")->prune->sparsity, 0.5);
  // M must divide the inputs: 688 = 16·43.
  e = error_of({{"overrides", {{{"match", "*.down_proj"}, {"prune", {{"pattern", "2:32"}}}}}}}, m, &key, &layer);
  EXPECT_NE(e.find("pattern 2:32 needs M to divide the 688 input features of model.layers.0.mlp.down_proj"), std::string::npos) << e;
  EXPECT_EQ(key, "overrides[0].prune.pattern");
  EXPECT_EQ(layer, "model.layers.0.mlp.down_proj");
  // Rank larger than min(in, out): k_proj is [128, 256].
  e = error_of({{"overrides", {{{"match", "*.self_attn.*"}, {"lowrank", {{"rank", 200}}}}}}}, m, &key, &layer);
  EXPECT_NE(e.find("rank 200 is larger than min(out, in) = 128 of model.layers.0.self_attn.k_proj [128, 256]"), std::string::npos) << e;
  EXPECT_EQ(key, "overrides[0].lowrank.rank");
  EXPECT_EQ(layer, "model.layers.0.self_attn.k_proj");
  e = error_of({{"default", {{"lowrank", {{"rank", 8}, {"energy", 0.9}}}}}}, m);
  EXPECT_NE(e.find("give only one of rank, ratio and energy"), std::string::npos) << e;
  e = error_of({{"default", {{"lowrank", {{"method", "svd-llm"}, {"energy", 0.9}}}}}}, m);
  EXPECT_NE(e.find("energy: applies to method \"svd\""), std::string::npos) << e;
  e = error_of({{"default", {{"lowrank", {{"rank", 8}}}, {"weights", {{"bits", 4}, {"method", "gptq"}}}}}}, m, &key, &layer);
  EXPECT_NE(e.find("low-rank factors are quantized by round to nearest"), std::string::npos) << e;
  EXPECT_EQ(layer, "model.layers.0.self_attn.q_proj");
  e = error_of({{"default", {{"lowrank", {{"rank", 8}}}, {"prune", {{"sparsity", 0.5}}}}}}, m, &key, &layer);
  EXPECT_NE(e.find("prune and lowrank on the same layer are not supported"), std::string::npos) << e;
  e = error_of({{"default", {{"prune", {{"sparsity", 0.5}, {"method", "magnitude"}, {"damp", 0.1}}}}}}, m);
  EXPECT_NE(e.find("damp: applies to method \"sparsegpt\""), std::string::npos) << e;
  e = error_of({{"default", {{"prune", {{"sparsity", 0.5}, {"method", "prune"}}}}}}, m);
  EXPECT_NE(e.find("\"prune\" is not one of"), std::string::npos) << e;
  // Kinds: Wanda and low rank need Linear layers; ViT's patch embedding is a Conv2d.
  e = error_of({{"default", {{"prune", {{"sparsity", 0.5}, {"method", "wanda"}}}}}}, vit_tiny(), &key, &layer);
  EXPECT_NE(e.find("method \"wanda\" applies to Linear layers; vit.embeddings.patch_embeddings.projection is a Conv2d"), std::string::npos) << e;
  e = error_of({{"default", {{"lowrank", {{"rank", 4}}}}}}, vit_tiny());
  EXPECT_NE(e.find("low-rank factors apply to Linear layers"), std::string::npos) << e;
  EXPECT_EQ(error_of({{"default", {{"prune", {{"sparsity", 0.5}}}}}}, vit_tiny()), "");  // magnitude prunes convs too
}

TEST(PruneSize, Accounting) {
  Model& m = sotu_llama();
  auto size = [&](const json& r) { return estimate_size(m, resolve(Recipe::parse(r), m)); };
  const std::string q = "model.layers.0.self_attn.q_proj";  // [256, 256]
  auto layer = [&](const SizeEstimate& e, const std::string& name) {
    for (const auto& l : e.layers)
      if (l.layer == name) return l;
    throw std::runtime_error(name);
  };
  const double n = 256.0 * 256;
  // 2:4 at 16 bits: half the values plus 2 index bits per kept value.
  auto e = layer(size({{"default", {{"prune", {{"pattern", "2:4"}}}}}}), q);
  EXPECT_EQ(e.stored, 256 * 128);
  EXPECT_DOUBLE_EQ(e.bits, n / 2 * 16 + n);
  // 1:4: a quarter, 2 bits each; 4:8: half, 3-bit indices would cost more than an 8-bit mask.
  EXPECT_DOUBLE_EQ(layer(size({{"default", {{"prune", {{"pattern", "1:4"}}}}}}), q).bits, n / 4 * 16 + n / 2);
  EXPECT_DOUBLE_EQ(layer(size({{"default", {{"prune", {{"pattern", "4:8"}}}}}}), q).bits, n / 2 * 16 + n);
  EXPECT_DOUBLE_EQ(layer(size({{"default", {{"prune", {{"pattern", "4:4"}}}}}}), q).bits, n * 16);
  // Unstructured: a bitmap.
  EXPECT_DOUBLE_EQ(layer(size({{"default", {{"prune", {{"sparsity", 0.25}}}}}}), q).bits, n * 0.75 * 16 + n);
  // W4 g128 + 2:4: 4 bits per kept value, the dense scales, the index.
  auto on_q = [](const json& setting) {
    json o = setting;
    o["match"] = "*.q_proj";
    return json{{"overrides", {o}}};
  };
  e = layer(size(on_q({{"prune", {{"pattern", "2:4"}}}, {"weights", {{"bits", 4}, {"group_size", 128}}}})), q);
  EXPECT_DOUBLE_EQ(e.bits, n / 2 * 4 + 256 * 2 * 16 + n);
  // Rank 64 at 16 bits; quantized W4 g128: B [64, 256] in groups of 128, A [256, 64] in groups of 64.
  e = layer(size({{"default", {{"lowrank", {{"rank", 64}}}}}}), q);
  EXPECT_EQ(e.stored, 64 * 512);
  EXPECT_EQ(e.rank, 64);
  EXPECT_DOUBLE_EQ(e.bits, 64.0 * 512 * 16);
  e = layer(size(on_q({{"lowrank", {{"rank", 64}}}, {"weights", {{"bits", 4}, {"group_size", 128}}}})), q);
  EXPECT_DOUBLE_EQ(e.bits, 64.0 * 512 * 4 + (256 * 1 + 64 * 2) * 16.0);
  // Energy 1.0 keeps every singular value.
  EXPECT_EQ(layer(size({{"default", {{"lowrank", {{"energy", 1.0}}}}}}), q).rank, 256);
}

CalibrationSet random_calib(int64_t vocab, int64_t n, int64_t T, uint64_t seed = 3) {
  at::manual_seed(seed);
  return CalibrationSet::from_token_windows(at::randint(0, vocab, {n, T}, at::kLong), 4);
}

// What compress() leaves stored, counted from the model: kept values, factors, everything else.
int64_t stored_params(const Model& m, const CompressResult& r) {
  std::map<std::string, int64_t> after;
  for (const auto& l : r.layers)
    if (l.params_after) after[l.layer] = *l.params_after;
  int64_t total = 0;
  std::set<const void*> seen;
  for (const auto& [name, t] : m.params())
    if (seen.insert(t.unsafeGetTensorImpl()).second) total += t.numel();
  for (const auto& l : m.layers()) {
    if (after.count(l->name())) {
      total += after.at(l->name());
      continue;
    }
    if (seen.insert(l->original_weight().unsafeGetTensorImpl()).second) total += l->original_weight().numel();
    if (l->original_bias().defined() && seen.insert(l->original_bias().unsafeGetTensorImpl()).second) total += l->original_bias().numel();
  }
  return total;
}

// The issue's combined recipe: W4 g128 everywhere, 2:4 SparseGPT on the MLPs, rank-64 SVD-LLM
// attention projections (their factors quantized too).
TEST(PruneCompress, CombinedRecipeStoresWhatTheEstimateSays) {
  auto m = load_model(test::demo("sotu-llama"));
  const auto c = random_calib(4096, 4, 64);
  const json recipe = json::parse(R"({"name": "w4-24mlp-rank64attn",
    "default": {"weights": {"bits": 4, "symmetric": false, "group_size": 128}},
    "overrides": [{"match": "*.mlp.down_proj", "weights": {"group_size": 172}},
                  {"match": "*.mlp.*", "prune": {"pattern": "2:4", "method": "sparsegpt"}},
                  {"match": "*.self_attn.*", "lowrank": {"rank": 64, "method": "svd-llm"}}]})");
  const auto plan = resolve(Recipe::parse(recipe), *m);
  const auto est = estimate_size(*m, plan);
  const int64_t float_params = m->parameter_count();
  const auto r = compress(*m, plan, c);
  ASSERT_EQ(r.layers.size(), 6u * 7u);
  int64_t compared = 0;
  for (const auto& l : r.layers) {
    const LayerSize* s = nullptr;
    for (const auto& e : est.layers)
      if (e.layer == l.layer) s = &e;
    ASSERT_TRUE(s && l.params_after && l.params_before) << l.layer;
    const Layer& layer = m->layer(l.layer);
    const int64_t bias = layer.bias().defined() ? layer.bias().numel() : 0;
    EXPECT_EQ(*l.params_after, s->stored + bias) << l.layer;
    if (l.layer.find(".mlp.") != std::string::npos) {
      ASSERT_TRUE(l.sparsity) << l.layer;
      EXPECT_DOUBLE_EQ(*l.sparsity, 0.5);
      EXPECT_FALSE(l.rank);
      // Kept values are 4-bit codes: at most 16 distinct values per group of the row... and pruned ones are zero.
      const auto w = layer.weight().to(at::kFloat);
      EXPECT_EQ(w.ne(0).reshape({w.size(0), -1, 4}).sum(-1).gt(2).sum().item<int64_t>(), 0) << l.layer;
    } else {
      ASSERT_TRUE(l.rank) << l.layer;
      EXPECT_EQ(*l.rank, 64);
      ASSERT_NE(layer.kernel(), nullptr);
      EXPECT_EQ(layer.kernel()->parameters(), 64 * (layer.out_features() + layer.in_features()));
    }
    ASSERT_TRUE(l.output_sqnr_db) << l.layer;
    EXPECT_GT(*l.output_sqnr_db, 3.0) << l.layer;
    ++compared;
  }
  EXPECT_EQ(compared, 42);
  EXPECT_EQ(est.stored_params, stored_params(*m, r));
  EXPECT_LT(est.stored_params, est.original_params);
  EXPECT_EQ(est.original_params, float_params);
  // The model still runs, and reset restores the float one.
  at::NoGradGuard ng;
  const auto out = m->forward(c.batches.front()).logits;
  EXPECT_TRUE(out.isfinite().all().item<bool>());
  m->reset_compression();
  for (const auto& l : m->layers()) EXPECT_EQ(l->kernel(), nullptr);
}

TEST(PruneCompress, MagnitudeAndSvdNeedNoCalibration) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const json recipe = json::parse(R"({"default": {"prune": {"sparsity": 0.5}},
    "overrides": [{"match": "*.q_proj", "prune": null, "lowrank": {"energy": 0.9}}]})");
  const auto plan = resolve(Recipe::parse(recipe), *m);
  EXPECT_FALSE(plan.needs_calibration());
  const auto est = estimate_size(*m, plan);
  const auto r = compress(*m, plan, CalibrationSet{});
  for (const auto& l : r.layers) {
    if (l.layer.find("q_proj") != std::string::npos) {
      ASSERT_TRUE(l.rank);
      for (const auto& e : est.layers)
        if (e.layer == l.layer) EXPECT_EQ(e.rank, *l.rank);
    } else {
      ASSERT_TRUE(l.sparsity);
      EXPECT_NEAR(*l.sparsity, 0.5, 1e-3);
    }
  }
  EXPECT_EQ(est.stored_params, stored_params(*m, r));
  EXPECT_TRUE(resolve(Recipe::parse(json::parse(R"({"default": {"prune": {"sparsity": 0.5, "method": "wanda"}}})")), *m).needs_calibration());
  EXPECT_THROW(compress(*m, resolve(Recipe::parse(json::parse(R"({"default": {"prune": {"sparsity": 0.5, "method": "wanda"}}})")), *m),
                        CalibrationSet{}),
               Error);
}

// The budget solver sees quantization, N:M and low rank in one currency, bits per weight as the
// size estimate counts them, and its suggestion's estimate is the average it promised.
TEST(PruneBudget, OneBitBudgetChoosesAmongBitsPatternsAndRanks) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto eval = random_calib(512, 4, 33, 5);
  const std::vector<SensitivityCandidate> cands = {
      {"W4 g16", json::parse(R"({"weights": {"bits": 4, "group_size": 16}})")},
      {"2:4", json::parse(R"({"prune": {"pattern": "2:4"}})")},
      {"rank 1/4", json::parse(R"({"lowrank": {"ratio": 0.25}})")},
      {"W8", json::parse(R"({"weights": {"bits": 8}})")}};
  const auto r = sensitivity(*m, cands, eval, CalibrationSet{});
  ASSERT_EQ(r.units.size(), 14u);
  for (const auto& u : r.units) {
    const Layer& l = m->layer(u.name);
    const double out = static_cast<double>(l.out_features()), in = static_cast<double>(l.in_features());
    EXPECT_DOUBLE_EQ(u.entries[0].bits, 4 + 16.0 / 16) << u.name;
    EXPECT_DOUBLE_EQ(u.entries[1].bits, 9.0) << u.name;
    EXPECT_DOUBLE_EQ(u.entries[1].density, 0.5) << u.name;
    const double rank = std::floor(0.25 * out * in / (out + in));
    EXPECT_DOUBLE_EQ(u.entries[2].bits, 16 * rank * (out + in) / (out * in)) << u.name;
    EXPECT_DOUBLE_EQ(u.entries[3].bits, 8 + 16.0 / in) << u.name;
  }
  for (double budget : {4.5, 6.0, 8.0}) {
    const auto mp = suggest_mixed_precision(r, budget);
    EXPECT_LE(mp.average_bits, budget + 1e-9);
    const auto plan = resolve(Recipe::parse(mp.recipe(r, cands, "mixed")), *m);
    const auto est = estimate_size(*m, plan);
    double bits = 0, n = 0;
    for (const auto& l : est.layers)
      for (const auto& u : r.units)
        if (u.name == l.layer) {
          bits += l.bits;
          n += static_cast<double>(l.weights);
        }
    EXPECT_NEAR(bits / n, mp.average_bits, 1e-9) << budget;
  }
  // The same candidates under a sparsity budget: at least half the weights gone.
  const auto sparse = suggest_mixed_precision(r, 0.5, BudgetKind::Density);
  EXPECT_LE(sparse.average_density, 0.5 + 1e-9);
  EXPECT_THROW(suggest_mixed_precision(r, 0.1, BudgetKind::Density), UsageError);
}

}  // namespace
}  // namespace quench
