// ZipCache: normalized attention finds the tokens that late queries attend to (which accumulated
// attention ranks below early ones), the salient tokens keep more precision, and the method runs
// through the pipeline on the :q/:k/:v points with its bits in the result.
#include <gtest/gtest.h>

#include <cmath>

#include "core/compress/compress.h"
#include "core/compress/kivi.h"
#include "core/compress/recipe.h"
#include "core/compress/zipcache.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;

double rel(const at::Tensor& a, const at::Tensor& b) { return (a - b).pow(2).sum().item<double>() / b.pow(2).sum().item<double>(); }

TEST(ZipCacheTest, NormalizedAttentionFindsLateSalientTokens) {
  const int64_t T = 64, D = 8;
  // One head. Every query attends evenly except to token 50, which all queries that can see it
  // attend to strongly; the early tokens get a share from every query.
  at::Tensor q = at::zeros({1, T, D}), k = at::zeros({1, T, D});
  q.select(2, 0).fill_(1.0);
  k.index_put_({0, 50, 0}, 10.0);
  const at::Tensor sal = zipcache_saliency(q, k, D, 1.0);  // every query probed
  ASSERT_EQ(sal.sizes(), (std::vector<int64_t>{1, T}));
  EXPECT_EQ(sal.argmax(1).item<int64_t>(), 50);
  const at::Tensor mask = zipcache_salient(sal, 0.05);
  EXPECT_EQ(mask.sum().item<int64_t>(), 3);  // round(0.05·64)
  EXPECT_TRUE(mask.index({0, 50}).item<bool>());
  // With 10 % of the queries probed the newest ones are among them, so token 50 is still found.
  EXPECT_EQ(zipcache_saliency(q, k, D, 0.1).argmax(1).item<int64_t>(), 50);
  // Grouped-query attention: 4 query heads over 2 key/value heads.
  EXPECT_EQ(zipcache_saliency(at::randn({2, T, 4 * D}), at::randn({2, T, 2 * D}), D, 0.1).sizes(), (std::vector<int64_t>{2, T}));
  EXPECT_THROW(zipcache_saliency(at::randn({1, T, 3 * D}), at::randn({1, T, 2 * D}), D, 0.1), Error);
}

TEST(ZipCacheTest, SalientTokensKeepMorePrecision) {
  at::manual_seed(4);
  const at::Tensor k = at::randn({2, 96, 32});
  k.select(2, 5).mul_(10);
  at::Tensor mask = at::zeros({2, 96}, at::kBool);
  mask.narrow(1, 10, 30).fill_(true);
  KvQuant s;
  s.method = KvMethod::ZipCache;
  s.bits = 2;
  s.high_bits = 4;
  s.group_size = 16;
  for (bool keys : {true, false}) {
    const at::Tensor out = keys ? zipcache_keys(k, mask, s) : zipcache_values(k, mask, s);
    const double e_hi = rel(out.narrow(1, 10, 30), k.narrow(1, 10, 30)), e_lo = rel(out.narrow(1, 40, 56), k.narrow(1, 40, 56));
    EXPECT_LT(e_hi, 0.25 * e_lo) << (keys ? "keys" : "values");
  }
  s.bits = s.high_bits = 8;
  EXPECT_LT(rel(zipcache_keys(k, mask, s), k), 1e-4);
  EXPECT_LT(rel(zipcache_values(k, mask, s), k), 1e-4);
}

TEST(ZipCacheTest, ThroughThePipelineOnQkvPoints) {
  auto m = load_model(test::demo("sotu-llama"));
  at::manual_seed(3);
  const CalibrationSet c = CalibrationSet::from_token_windows(at::randint(0, 4096, {4, 64}, at::kLong), 4);
  at::NoGradGuard ng;
  const at::Tensor before = m->forward(c.batches.front()).logits;
  auto run = [&](const json& kv) {
    const CompressResult r = compress(*m, resolve(Recipe::parse({{"kv_cache", kv}}), *m), c);
    return std::make_pair(r, rel(m->forward(c.batches.front()).logits, before));
  };
  const auto [r8, e8] = run({{"method", "zipcache"}, {"bits", 8}, {"high_bits", 8}});
  EXPECT_LT(e8, 1e-4);
  const auto [r2, e2] = run({{"method", "zipcache"}, {"bits", 2}, {"high_bits", 2}});
  const auto [rz, ez] = run({{"method", "zipcache"}, {"bits", 2}, {"high_bits", 4}, {"salient", 0.5}});
  EXPECT_LT(ez, e2) << "half the tokens at 4 bits";
  for (const auto& l : rz.layers)
    if (l.kind == "kv_cache") {
      EXPECT_DOUBLE_EQ(*l.bits, 0.5 * 4 + 0.5 * 2 + 1.0);
      EXPECT_TRUE(l.output_sqnr_db.has_value());
    }
  EXPECT_DOUBLE_EQ(rz.size.kv_bits_per_element, 4.0);
}

}  // namespace
}  // namespace quench
