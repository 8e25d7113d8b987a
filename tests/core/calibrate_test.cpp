// Calibration runs over the tiny fixtures: every observable point gets statistics, Mamba's scan
// internals and attention K/V included; cancelling throws; memory is independent of the data.
#include <gtest/gtest.h>

#include <set>

#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "core/stats/calibration_observer.h"
#include "core/util/error.h"
#include "test_util.h"

namespace quench {
namespace {

// n batches of random token windows [B, T], then the end of the data.
BatchSource random_tokens(int64_t vocab, int64_t n, int64_t B = 2, int64_t T = 16, uint64_t seed = 5) {
  auto left = std::make_shared<int64_t>(n);
  auto gen = std::make_shared<uint64_t>(seed);
  return [=]() -> std::optional<ModelInputs> {
    if (*left == 0) return std::nullopt;
    --*left;
    at::manual_seed((*gen)++);
    ModelInputs in;
    in.input_ids = at::randint(0, vocab, {B, T}, at::kLong);
    return in;
  };
}

std::set<std::string> point_names(const Model& m) {
  std::set<std::string> s;
  for (const auto& p : m.points()) s.insert(p.name);
  return s;
}

TEST(Calibrate, LlamaTinyEveryPointIncludingKV) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  CalibrationOptions opts;
  opts.expected_samples = 8;
  std::vector<int64_t> done;
  const auto r = calibrate(*model, random_tokens(512, 4), opts, [&](int64_t d, int64_t total, double eta, const std::string&) {
    EXPECT_EQ(total, 8);
    if (d > 0 && d < 8) EXPECT_GE(eta, 0);
    done.push_back(d);
    return true;
  });
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(r.samples, 8);
  EXPECT_EQ(r.batches, 4);
  EXPECT_EQ(r.tokens, 4 * 2 * 16);
  std::set<std::string> got;
  for (const auto& p : r.points) {
    got.insert(p.point);
    EXPECT_EQ(p.batches, 4) << p.point;
    EXPECT_EQ(p.all.count, 4 * 2 * 16 * p.channels) << p.point;
    EXPECT_GT(p.all.std, 0) << p.point;
  }
  EXPECT_EQ(got, point_names(*model));
  for (int i = 0; i < 2; ++i) {
    const std::string a = "model.layers." + std::to_string(i) + ".self_attn:";
    for (const char* kv : {"k", "v"}) {
      const ActivationStats* s = r.point(a + kv);
      ASSERT_NE(s, nullptr) << a << kv;
      EXPECT_EQ(s->channels, 2 * 16);  // kv_heads · head_dim
      EXPECT_EQ(s->shape, (std::vector<int64_t>{2, 16, 32}));
      EXPECT_EQ(s->token_max.count, 4 * 2 * 16);
    }
  }
  ASSERT_EQ(r.weights.size(), model->layers().size());
  EXPECT_EQ(r.weight("model.layers.1.mlp.down_proj")->outliers.channels.size(), 2u);
  EXPECT_EQ(done.front(), 0);
  EXPECT_EQ(done.back(), 8);
  EXPECT_FALSE(model->hooks().active());  // the observer is gone
}

TEST(Calibrate, MambaTinyScanInternals) {
  auto model = load_model(test::fixture("hf-tiny/mamba-tiny"));
  const auto r = calibrate(*model, random_tokens(512, 3), {});
  EXPECT_EQ(r.points.size(), model->points().size());
  for (int i = 0; i < 2; ++i) {
    const std::string m = "backbone.layers." + std::to_string(i) + ".mixer:";
    const std::map<std::string, int64_t> channels{{"x", 128}, {"dt", 128}, {"B", 8}, {"C", 8}, {"y", 128}};
    for (const auto& [what, c] : channels) {
      const ActivationStats* s = r.point(m + what);
      ASSERT_NE(s, nullptr) << m << what;
      EXPECT_EQ(s->channels, c) << m << what;
      EXPECT_EQ(s->batches, 3) << m << what;
      EXPECT_GT(s->all.std, 0) << m << what;
    }
    EXPECT_GT(r.point(m + "dt")->all.min, 0);  // Δ is a softplus
    EXPECT_EQ(r.point("backbone.layers." + std::to_string(i) + ".mixer.conv1d:input")->channel_dim, 1);
  }
}

// n batches of random images [B, C, H, W].
BatchSource random_images(int64_t n, int64_t B, int64_t C, int64_t HW) {
  auto left = std::make_shared<int64_t>(n);
  return [=]() -> std::optional<ModelInputs> {
    if (*left == 0) return std::nullopt;
    --*left;
    ModelInputs in;
    in.pixel_values = at::randn({B, C, HW, HW});
    return in;
  };
}

// Image models: conv points are [B, C, H, W] with channels on axis 1; every pixel is a token.
TEST(Calibrate, ImageModelsConvChannelsOnAxisOne) {
  auto vit = load_model(test::fixture("hf-tiny/vit-tiny"));
  const auto rv = calibrate(*vit, random_images(2, 2, 3, 32), {});
  EXPECT_EQ(rv.points.size(), vit->points().size());
  EXPECT_EQ(rv.samples, 4);
  EXPECT_EQ(rv.tokens, 0);
  const ActivationStats* patch = rv.point("vit.embeddings.patch_embeddings.projection:input");
  ASSERT_NE(patch, nullptr);
  EXPECT_EQ(patch->channels, 3);
  EXPECT_EQ(patch->channel_dim, 1);
  EXPECT_EQ(patch->token_max.count, 2 * 2 * 32 * 32);

  auto resnet = load_model(test::demo("mnist-resnet"));
  const auto rr = calibrate(*resnet, random_images(3, 4, 1, 28), {});
  EXPECT_EQ(rr.points.size(), resnet->points().size());
  EXPECT_TRUE(rr.warnings.empty()) << rr.warnings.front();
  int convs = 0;
  for (const auto& l : resnet->layers()) {
    if (l->kind() != LayerKind::Conv2d) continue;
    const ActivationStats* in = rr.point(l->input_point());
    const ActivationStats* out = rr.point(l->output_point());
    ASSERT_TRUE(in && out) << l->name();
    EXPECT_EQ(in->channels, l->weight().size(1) * l->conv().groups) << l->name();
    EXPECT_EQ(out->channels, l->weight().size(0)) << l->name();
    EXPECT_EQ(in->all.count, in->token_max.count * in->channels) << l->name();
    ++convs;
  }
  EXPECT_GT(convs, 3);
}

TEST(Calibrate, PatternsSelectPoints) {
  auto model = load_model(test::fixture("hf-tiny/mamba-tiny"));
  CalibrationOptions opts;
  opts.points = "*:x, *mixer:y";
  opts.weights = false;
  const auto r = calibrate(*model, random_tokens(512, 1), opts);
  std::set<std::string> got;
  for (const auto& p : r.points) got.insert(p.point);
  EXPECT_EQ(got, (std::set<std::string>{"backbone.layers.0.mixer:x", "backbone.layers.0.mixer:y", "backbone.layers.1.mixer:x",
                                        "backbone.layers.1.mixer:y"}));
  EXPECT_TRUE(r.weights.empty());

  auto llama = load_model(test::fixture("hf-tiny/llama-tiny"));
  opts.points = "model.layers.*.mlp.*";
  EXPECT_EQ(calibrate(*llama, random_tokens(512, 1), opts).points.size(), 2u * 3 * 2);
  opts.points = "nothing.like.this:*";
  EXPECT_THROW(calibrate(*llama, random_tokens(512, 1), opts), UsageError);
  opts.points = "*";
  EXPECT_THROW(calibrate(*llama, random_tokens(512, 0), opts), UsageError);  // no data
  opts.max_samples = 4;
  EXPECT_EQ(calibrate(*llama, random_tokens(512, 10), opts).samples, 4);
}

TEST(Calibrate, CancelMidwayThrowsAndRemovesTheObserver) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  int calls = 0;
  auto stop_after_two = [&](int64_t done, int64_t, double, const std::string&) { return ++calls <= 2; };
  EXPECT_THROW(calibrate(*model, random_tokens(512, 10), {}, stop_after_two), Cancelled);
  EXPECT_EQ(calls, 3);  // start, batch 1, batch 2 → stop
  EXPECT_FALSE(model->hooks().active());

  BatchSource failing = [n = 0]() mutable -> std::optional<ModelInputs> {
    if (++n > 2) throw Error("dataset went away");
    ModelInputs in;
    in.input_ids = at::zeros({1, 4}, at::kLong);
    return in;
  };
  EXPECT_THROW(calibrate(*model, failing, {}), Error);
  EXPECT_FALSE(model->hooks().active());
}

TEST(Calibrate, ObserverMemoryIsTheSameAfter10And50Batches) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  CalibrationOptions opts;
  opts.weights = false;
  const auto r10 = calibrate(*model, random_tokens(512, 10), opts);
  const auto r50 = calibrate(*model, random_tokens(512, 50, 2, 16, 99), opts);
  EXPECT_EQ(r50.batches, 50);
  EXPECT_GT(r10.observer_bytes, 0u);
  EXPECT_EQ(r10.observer_bytes, r50.observer_bytes);

  // The same with the observer driven directly, between batches of one stream.
  auto obs = std::make_shared<CalibrationObserver>(PointPattern("*"));
  ScopedObserver scoped(model->hooks(), obs);
  at::NoGradGuard ng;
  auto src = random_tokens(512, 50);
  size_t at10 = 0;
  for (int i = 1; i <= 50; ++i) {
    model->forward(*src());
    if (i == 10) at10 = obs->memory_bytes();
  }
  EXPECT_EQ(obs->memory_bytes(), at10);
  EXPECT_EQ(obs->points().size(), model->points().size());
}

TEST(Calibrate, PointStatisticsEqualStatisticsOfTheObservedTensors) {
  auto model = load_model(test::fixture("hf-tiny/llama-tiny"));
  const std::string point = "model.layers.0.mlp.down_proj:input";
  StreamingStats direct;
  auto capture = std::make_shared<FunctionObserver>([&](const std::string& p, const at::Tensor& t, int64_t cd) {
    if (p == point) direct.add(t, cd);
  });
  CalibrationResult r;
  {
    ScopedObserver scoped(model->hooks(), capture);
    r = calibrate(*model, random_tokens(512, 3), {});
  }
  const auto want = direct.result(point);
  const ActivationStats* got = r.point(point);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->all.std, want.all.std);
  EXPECT_EQ(got->channel_absmax, want.channel_absmax);
  EXPECT_EQ(got->all.histogram.counts(), want.all.histogram.counts());
}

TEST(PointPattern, Globs) {
  EXPECT_TRUE(glob_match("*", "model.layers.0.mlp.up_proj:input"));
  EXPECT_TRUE(glob_match("model.layers.*.mlp.*", "model.layers.12.mlp.down_proj:output"));
  EXPECT_FALSE(glob_match("model.layers.*.mlp.*", "model.layers.1.self_attn.q_proj:input"));
  EXPECT_TRUE(glob_match("*:x", "backbone.layers.3.mixer:x"));
  EXPECT_FALSE(glob_match("*:x", "backbone.layers.3.mixer:xx"));
  EXPECT_TRUE(glob_match("*.?_proj:*", "a.q_proj:input"));
  EXPECT_FALSE(glob_match("*.?_proj:*", "a.up_proj:input"));
  EXPECT_TRUE(glob_match("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(glob_match("", ""));
  PointPattern p(" *:k , *:v ");
  EXPECT_EQ(p.str(), "*:k,*:v");
  EXPECT_TRUE(p.matches("model.layers.0.self_attn:v"));
  EXPECT_FALSE(p.matches("model.layers.0.self_attn.v_proj:input"));
  EXPECT_THROW(PointPattern(""), UsageError);
  EXPECT_THROW(PointPattern("*:k,,*:v"), UsageError);
}

}  // namespace
}  // namespace quench
