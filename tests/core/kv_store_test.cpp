// Decoding caches (core/models/kv_store.h): the float store gives back what was appended, and
// KIVI's store (core/compress/kivi.h) keeps keys and values packed, reads back the whole-sequence
// simulation's values (up to its float16 scales) and holds under a fifth of the float cache at
// a 4k context with Llama-3-8B's heads; a KIVI-compressed model decodes through it.
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include "core/compress/compress.h"
#include "core/compress/kivi.h"
#include "core/models/kv_store.h"
#include "core/models/registry.h"
#include "test_util.h"

namespace quench {
namespace {

KvQuant kivi(int bits, int64_t group, int64_t residual) {
  KvQuant s;
  s.method = KvMethod::Kivi;
  s.bits = bits;
  s.group_size = group;
  s.residual = residual;
  return s;
}

// [B, H, T, D] ↔ the points' [B, T, H·D].
at::Tensor flat(const at::Tensor& x) { return x.transpose(1, 2).reshape({x.size(0), x.size(2), -1}); }

TEST(FloatKvStore, GivesBackEveryTokenAppended) {
  at::manual_seed(1);
  const at::Tensor k = at::randn({2, 3, 37, 8}), v = at::randn({2, 3, 37, 8});
  FloatKvStore s;
  int64_t at = 0;
  for (int64_t n : {5, 1, 1, 20, 1, 9}) {
    const auto [ks, vs] = s.append(k.narrow(2, at, n), v.narrow(2, at, n));
    at += n;
    EXPECT_TRUE(at::equal(ks, k.narrow(2, 0, at)));
    EXPECT_TRUE(at::equal(vs, v.narrow(2, 0, at)));
  }
  EXPECT_EQ(s.tokens(), 37);
  EXPECT_EQ(s.bytes(), 2 * 2 * 3 * 37 * 8 * 4);
}

TEST(KiviKvStore, ReadsBackTheSimulationAndHoldsItPacked) {
  at::manual_seed(2);
  const int64_t B = 2, H = 2, T = 75, D = 32;
  const KvQuant s = kivi(2, 16, 32);
  at::Tensor k = at::randn({B, H, T, D}), v = at::randn({B, H, T, D});
  k.select(3, 5).mul_(12);  // an outlier channel, as KIVI expects of keys
  KiviKvStore store(s);
  std::pair<at::Tensor, at::Tensor> got;
  int64_t at = 0;
  for (int64_t n : {40, 1, 1, 1, 30, 1, 1}) {
    got = store.append(k.narrow(2, at, n), v.narrow(2, at, n));
    at += n;
    // After the same tokens, the simulation of the whole sequence so far.
    const at::Tensor ks = kivi_keys(flat(k.narrow(2, 0, at)), s), vs = kivi_values(flat(v.narrow(2, 0, at)), s);
    EXPECT_LT(test::rel_error(flat(got.first), ks), 2e-3) << at;
    EXPECT_LT(test::rel_error(flat(got.second), vs), 2e-3) << at;
    EXPECT_GT(test::rel_error(flat(got.first), flat(k.narrow(2, 0, at))), 1e-2) << at << ": keys were not quantized";
  }
  EXPECT_EQ(store.tokens(), T);
  // The float windows hold the newest tokens exactly: keys T mod R, values the last R.
  EXPECT_TRUE(at::equal(got.first.narrow(2, 64, T - 64), k.narrow(2, 64, T - 64)));
  EXPECT_TRUE(at::equal(got.second.narrow(2, T - 32, 32), v.narrow(2, T - 32, 32)));
  EXPECT_THROW(KiviKvStore(kivi(2, 16, 0)), std::exception);
  EXPECT_THROW(KiviKvStore(kivi(2, 16, 24)), std::exception);
}

// Llama-3-8B's cache per layer at 4k tokens: 8 KV heads of 128, bfloat16. KIVI-2 with its
// defaults (G = 32, R = 128).
TEST(KiviKvStore, UnderAFifthOfTheBfloat16CacheAt4k) {
  at::manual_seed(3);
  const at::Tensor k = at::randn({1, 8, 4096, 128}).to(at::kBFloat16), v = at::randn({1, 8, 4096, 128}).to(at::kBFloat16);
  FloatKvStore f;
  KiviKvStore q(kivi(2, 32, 128));
  f.append(k.narrow(2, 0, 4088), v.narrow(2, 0, 4088));
  q.append(k.narrow(2, 0, 4088), v.narrow(2, 0, 4088));
  for (int64_t t = 4088; t < 4096; ++t) {  // then token by token, as decoding does
    f.append(k.narrow(2, t, 1), v.narrow(2, t, 1));
    q.append(k.narrow(2, t, 1), v.narrow(2, t, 1));
  }
  const double ratio = static_cast<double>(q.bytes()) / static_cast<double>(f.bytes());
  EXPECT_LE(ratio, 0.20) << q.bytes() << " of " << f.bytes();
  EXPECT_GT(ratio, 0.10);  // 2 bits + 24/32 bits of scale and zero, plus the float window: ≈ 0.18
  std::printf("KIVI-2 cache at 4096 tokens: %.1f%% of bfloat16 (%lld of %lld bytes)\n", 100 * ratio, static_cast<long long>(q.bytes()),
              static_cast<long long>(f.bytes()));
}

TEST(KiviKvStore, CompressedModelDecodesThroughIt) {
  at::NoGradGuard ng;
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  at::manual_seed(4);
  const at::Tensor ids = at::randint(0, 512, {1, 48}, at::kLong);
  const auto calib = CalibrationSet::from_token_windows(ids, 1);
  compress(*model, resolve(Recipe::parse(nlohmann::json::parse(R"({"kv_cache": {"method": "kivi", "bits": 2, "group_size": 16, "residual": 16}})")), *model),
           calib);
  ASSERT_TRUE(model->has_kv_store_factory());
  // A prompt at once: every query sees the cache as the whole-sequence simulation has it.
  {
    Model::DecodeCache prefill;
    EXPECT_LT(test::rel_error(model->decode(ids, prefill), model->forward({ids}).logits), 5e-3);
  }
  // Token by token: until a key window fills, nothing is quantized, so the steps are the float
  // model's; after, they differ by the quantization, and the cache holds the packed form.
  auto plain = load_model(test::fixture("hf-tiny/llama-tiny"));
  Model::DecodeCache cache, float_cache;
  for (int64_t t = 0; t < 48; ++t) {
    const at::Tensor a = model->decode(ids.narrow(1, t, 1), cache), b = plain->decode(ids.narrow(1, t, 1), float_cache);
    if (t < 15) EXPECT_TRUE(at::allclose(a, b, 1e-5, 1e-6)) << t;
    else EXPECT_LT(test::rel_error(a, b), 0.5) << t;
  }
  EXPECT_FALSE(model->decoding());
  EXPECT_GT(test::rel_error(model->decode(ids.narrow(1, 0, 1), cache), plain->decode(ids.narrow(1, 0, 1), float_cache)), 1e-4);
  // Packed: under half of what the float cache of the same tokens takes.
  const int64_t kv_float = float_cache.kv_bytes();
  EXPECT_EQ(kv_float, 2 /*blocks*/ * 2 /*k, v*/ * 2 /*heads*/ * 49 * 16 * 4);
  EXPECT_LT(cache.kv_bytes(), kv_float / 2) << cache.kv_bytes();
  // Starting over removes the store with the transforms.
  model->reset_compression();
  EXPECT_FALSE(model->has_kv_store_factory());
}

// Settings the store cannot hold (no float window, value groups wider than a head) keep their
// simulation while decoding instead of failing there.
TEST(KiviKvStore, SettingsItCannotHoldDecodeWithTheSimulation) {
  at::NoGradGuard ng;
  at::manual_seed(6);
  const at::Tensor ids = at::randint(0, 512, {1, 24}, at::kLong);
  for (const char* kv : {R"({"kv_cache": {"method": "kivi", "bits": 2, "group_size": 16, "residual": 0}})",
                         R"({"kv_cache": {"method": "kivi", "bits": 2, "group_size": 32, "residual": 32}})"}) {
    auto model = load_model(test::fixture("hf-tiny/llama-tiny"));  // head size 16
    compress(*model, resolve(Recipe::parse(nlohmann::json::parse(kv)), *model), CalibrationSet::from_token_windows(ids, 1));
    EXPECT_FALSE(model->has_kv_store_factory()) << kv;
    Model::DecodeCache cache;
    const at::Tensor step = model->decode(ids.narrow(1, 0, 20), cache);
    EXPECT_TRUE(at::isfinite(step).all().item<bool>()) << kv;
    // The prompt through the simulation, as in the whole-sequence pass.
    EXPECT_TRUE(at::allclose(step, model->forward({ids.narrow(1, 0, 20)}).logits, 1e-4, 1e-5)) << kv;
  }
}

}  // namespace
}  // namespace quench
