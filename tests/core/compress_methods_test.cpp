// The mechanics of each quantization method on synthetic layers and the tiny fixtures: what must
// hold whatever the model (GPTQ's and AWQ's output error at most RTN's on the same inputs; exact
// transforms leave the float model's logits unchanged; 8-bit KV and activations are near float),
// and the pipeline's per-layer results, cancellation and reset.
#include <gtest/gtest.h>

#include <cmath>

#include "core/compress/act_quant.h"
#include "core/compress/awq.h"
#include "core/compress/compress.h"
#include "core/compress/dgq.h"
#include "core/compress/family.h"
#include "core/compress/gptq.h"
#include "core/compress/kivi.h"
#include "core/compress/mixed_precision.h"
#include "core/compress/rtn.h"
#include "core/compress/smoothquant.h"
#include "core/models/registry.h"
#include "core/stats/calibrate.h"
#include "test_util.h"

namespace quench {
namespace {

using nlohmann::json;

// Inputs with correlated features and a few loud channels, like a transformer's activations.
at::Tensor synthetic_inputs(int64_t n, int64_t in, uint64_t seed) {
  at::manual_seed(seed);
  const auto mix = at::randn({in, in}) / std::sqrt(static_cast<double>(in));
  auto x = at::randn({n, in}).matmul(mix + at::eye(in));
  x.narrow(1, 0, 3).mul_(8.0);  // outlier channels
  return x;
}

// ‖a − b‖ / ‖b‖
double rel_fro(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).to(at::kDouble).norm().item<double>() / b.to(at::kDouble).norm().item<double>();
}

double output_error(const at::Tensor& wq, const at::Tensor& w, const at::Tensor& x) {
  const auto y = x.matmul(w.t()), yq = x.matmul(wq.t());
  return (yq - y).pow(2).sum().item<double>() / y.pow(2).sum().item<double>();
}

WeightQuant wq(int bits, WeightStrategy s, int64_t g = 0, const std::string& m = "rtn") {
  WeightQuant w;
  w.bits = bits;
  w.strategy = s;
  w.group_size = g;
  w.method = m;
  return w;
}

CalibrationSet random_calib(int64_t vocab, int64_t n = 8, int64_t T = 32, uint64_t seed = 3) {
  at::manual_seed(seed);
  return CalibrationSet::from_token_windows(at::randint(0, vocab, {n, T}, at::kLong), 4);
}

at::Tensor logits(Model& m, const CalibrationSet& c) {
  at::NoGradGuard ng;
  return m.forward(c.batches.front()).logits;
}

CompressResult run(Model& m, const json& recipe, const CalibrationSet& c, CompressOptions o = {}) {
  return compress(m, resolve(Recipe::parse(recipe), m), c, o);
}

const LayerResult& row(const CompressResult& r, const std::string& layer) {
  for (const auto& l : r.layers)
    if (l.layer == layer) return l;
  throw std::runtime_error("no row for " + layer);
}

TEST(RtnTest, FinerGranularityAndMseClipLowerTheWeightError) {
  at::manual_seed(1);
  const auto w = at::randn({64, 256});
  auto err = [&](const WeightQuant& s) { return (rtn_quantize(w, s) - w).pow(2).sum().item<double>(); };
  const double tensor = err(wq(4, WeightStrategy::Tensor)), channel = err(wq(4, WeightStrategy::Channel)),
               group = err(wq(4, WeightStrategy::Group, 32));
  EXPECT_LT(channel, tensor);
  EXPECT_LT(group, channel);
  WeightQuant mse = wq(3, WeightStrategy::Channel);
  mse.options["clip"] = "mse";
  RtnInfo info;
  const double e_mse = (rtn_quantize(w, mse, &info) - w).pow(2).sum().item<double>();
  EXPECT_LT(e_mse, err(wq(3, WeightStrategy::Channel)));
  EXPECT_LT(info.mean_clip, 1.0);
  // Asymmetric 8-bit on a shifted weight is near lossless.
  WeightQuant asym = wq(8, WeightStrategy::Channel);
  asym.symmetric = false;
  const auto shifted = w + 3.0;
  EXPECT_LT((rtn_quantize(shifted, asym) - shifted).pow(2).mean().item<double>(), 1e-4);
}

// The last of the counted users takes the sum itself (no copy); the values are the same, and the
// accumulator refuses to be used after that instead of handing out an empty tensor.
TEST(GptqTest, HessianHandedToItsLastUser) {
  const int64_t in = 64;
  const auto x = synthetic_inputs(300, in, 3);
  HessianAccumulator counted(in), plain(in);
  counted.add(x);
  plain.add(x);
  counted.expect_uses(2);
  const at::Tensor first = counted.hessian(), last = counted.hessian();
  EXPECT_TRUE(at::equal(first, plain.hessian()));
  EXPECT_TRUE(at::equal(last, plain.hessian()));
  EXPECT_THROW(counted.hessian(), std::exception);
  EXPECT_THROW(counted.add(x), std::exception);

  // gptq_quantize damps a copy unless it holds the only reference: the caller's H is untouched,
  // and handing it over gives the same result.
  at::manual_seed(4);
  const auto w = at::randn({16, in});
  WeightQuant g = wq(4, WeightStrategy::Channel);
  g.method = "gptq";
  const at::Tensor h = plain.hessian(), before = h.clone();
  const auto q_copy = gptq_quantize(w, h, g, "test");
  EXPECT_TRUE(at::equal(h, before));
  at::Tensor mine = h.clone();
  const auto q_moved = gptq_quantize(w, std::move(mine), g, "test");
  EXPECT_TRUE(at::equal(q_copy, q_moved));
}

TEST(GptqTest, OutputErrorBelowRtn) {
  const int64_t out = 48, in = 128;
  const auto x = synthetic_inputs(1024, in, 7);
  at::manual_seed(8);
  const auto w = at::randn({out, in});
  HessianAccumulator h(in);
  h.add(x.narrow(0, 0, 512));
  h.add(x.narrow(0, 512, 512).view({2, 256, in}));  // any leading shape
  EXPECT_EQ(h.rows(), 1024);
  EXPECT_TRUE(at::allclose(h.hessian(), (x.t().matmul(x) * (2.0 / 1024)), 1e-4, 1e-3));
  for (const auto& s : {wq(4, WeightStrategy::Channel), wq(3, WeightStrategy::Group, 32), wq(4, WeightStrategy::Tensor)}) {
    WeightQuant g = s;
    g.method = "gptq";
    GptqInfo info;
    const auto q = gptq_quantize(w, h.hessian(), g, "test", &info);
    const double e_gptq = output_error(q, w, x), e_rtn = output_error(rtn_quantize(w, s), w, x);
    EXPECT_LT(e_gptq, e_rtn) << s.describe();
    EXPECT_GT(info.damp, 0);
    g.options["act_order"] = true;
    const auto qa = gptq_quantize(w, h.hessian(), g, "test");
    EXPECT_LT(output_error(qa, w, x), e_rtn) << s.describe() << " act-order";
    // Per channel, the scales are fitted once on the whole weight: every value of q lies on its
    // row's grid s·k, k in [−8, 7].
    if (s.strategy == WeightStrategy::Channel) {
      const auto sc = ops::compute_qparams(w, s.spec()).scale.unsqueeze(1);
      const auto k = q / sc;
      EXPECT_LT((k - k.round()).abs().max().item<double>(), 1e-3);
      EXPECT_LE(k.round().max().item<double>(), 7);
      EXPECT_GE(k.round().min().item<double>(), -8);
    }
  }
  // Dead inputs (never active) get zero weight.
  auto xd = x.clone();
  xd.select(1, 5).zero_();
  HessianAccumulator hd(in);
  hd.add(xd);
  GptqInfo info;
  const auto qd = gptq_quantize(w, hd.hessian(), wq(4, WeightStrategy::Channel, 0, "gptq"), "test", &info);
  EXPECT_EQ(info.dead_columns, 1);
  EXPECT_EQ(qd.select(1, 5).abs().sum().item<double>(), 0.0);
}

// DGQ's weight is exactly s8·ŝ_g·(q − z_g) with every factor on its stated grid, W8 = ŝ_g·(q − z_g)
// fits int8, and its output error is below 4-bit per-channel RTN's (what W4A8 would use without it).
TEST(DgqTest, OutputErrorBelowPerChannelRtnAndEveryFactorOnItsGrid) {
  const int64_t out = 48, in = 128, G = 32;
  const auto x = synthetic_inputs(1024, in, 21);
  at::manual_seed(22);
  const auto w = at::randn({out, in});
  HessianAccumulator h(in);
  h.add(x);
  WeightQuant s = wq(4, WeightStrategy::Group, G, "dgq");
  s.symmetric = false;
  DgqInfo info;
  const auto q = dgq_quantize(w, h.hessian(), s, "test", &info);
  WeightQuant per_channel = wq(4, WeightStrategy::Channel);
  per_channel.symmetric = false;
  const double e_dgq = output_error(q, w, x), e_rtn = output_error(rtn_quantize(w, per_channel), w, x);
  EXPECT_LT(e_dgq, 0.8 * e_rtn) << "DGQ " << e_dgq << " vs per-channel RTN " << e_rtn;
  EXPECT_GT(info.rel_loss, 0);
  EXPECT_LE(info.mean_group_clip, 1.01);
  EXPECT_LE(info.mean_channel_clip, 1.01);
  ASSERT_EQ(info.q.sizes(), w.sizes());
  ASSERT_EQ(info.zero.sizes(), (std::vector<int64_t>{out, in / G}));
  EXPECT_LE(info.q.max().item<int64_t>(), 15);
  EXPECT_LE(info.zero.max().item<int64_t>(), 15);
  EXPECT_GE(info.group_scale.min().item<int64_t>(), 1);
  EXPECT_LE(info.group_scale.max().item<int64_t>(), 127);
  const auto w8 = info.group_scale.to(at::kFloat).unsqueeze(2) *
                  (info.q.to(at::kFloat).view({out, in / G, G}) - info.zero.to(at::kFloat).unsqueeze(2));
  EXPECT_LE(w8.abs().max().item<double>(), 127);
  const auto rebuilt = info.channel_scale.unsqueeze(1) * w8.view({out, in});
  EXPECT_TRUE(at::allclose(rebuilt, q, 1e-5, 1e-7));
}

TEST(AwqTest, ClipAndScaleSearchNeverLoseToRtn) {
  const int64_t out = 32, in = 128;
  const auto x = synthetic_inputs(512, in, 11);
  at::manual_seed(12);
  const auto w = at::randn({out, in});
  const auto s = wq(3, WeightStrategy::Group, 32, "awq");
  double mean_clip = 0;
  const auto p = awq_search_clip(w, x, s, &mean_clip);
  const auto q = ops::fake_quant(w, p, s.spec());
  EXPECT_LE(output_error(q, w, x), output_error(rtn_quantize(w, wq(3, WeightStrategy::Group, 32)), w, x) + 1e-12);
  EXPECT_LE(mean_clip, 1.0);
  // Scale search: the loss of the kept scale is at most the unscaled one (r = 0 is a candidate),
  // and activation-aware scaling helps when a few input channels are loud.
  auto loss = [&](const at::Tensor& sc) {
    const auto wq_ = ops::fake_quant(w * sc.unsqueeze(0), s.spec()) / sc.unsqueeze(0);
    return output_error(wq_, w, x);
  };
  const auto best = awq_search_scale(x.abs().mean(0), 20, loss);
  EXPECT_LE(best.loss, best.loss_plain);
  EXPECT_GT(best.ratio, 0.0);
  EXPECT_LT(best.loss, 0.9 * best.loss_plain);
}

TEST(FamilyTest, FoldedScalesLeaveTheFloatModelUnchanged) {
  for (const char* fixture : {"hf-tiny/llama-tiny", "hf-tiny/qwen2-tiny", "hf-tiny/vit-tiny", "hf-tiny/mamba2-tiny"}) {
    auto m = load_model(test::fixture(fixture));
    ModelInputs in;
    at::manual_seed(4);
    if (m->modality() == Modality::Text) in.input_ids = at::randint(0, 100, {2, 12}, at::kLong);
    else in.pixel_values = at::randn({2, m->config().get_int("num_channels", 3), 32, 32});
    at::NoGradGuard ng;
    const auto before = m->forward(in).logits;
    int groups = 0;
    for (int64_t b = 0; b < m->num_blocks(); ++b)
      for (const auto& g : block_scale_groups(*m, b)) {
        fold_scale(*m, g, at::rand({g.layers.front()->in_features()}) * 4 + 0.25);
        ++groups;
      }
    EXPECT_GT(groups, 0) << fixture;
    EXPECT_LT(test::rel_error(m->forward(in).logits, before), 1e-5) << fixture;
    m->reset_compression();
    EXPECT_TRUE(at::equal(m->forward(in).logits, before)) << fixture;
  }
}

TEST(SmoothQuantTest, FloatLogitsUnchanged) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto c = random_calib(512);
  const auto before = logits(*m, c);
  const auto groups = apply_smoothquant(*m, 0.5, c.source());
  ASSERT_EQ(groups.size(), 2u * 2u);  // per block: input norm → q,k,v; post-attention norm → gate,up
  EXPECT_NE(groups[0].min_scale, groups[0].max_scale);
  EXPECT_TRUE(m->param_modified("model.layers.0.input_layernorm.weight"));
  EXPECT_LT(test::rel_error(logits(*m, c), before), 1e-5);
  m->reset_compression();
  EXPECT_FALSE(m->param_modified("model.layers.0.input_layernorm.weight"));
  EXPECT_TRUE(at::equal(logits(*m, c), before));
}

TEST(SmoothQuantTest, FlattensTheQuantizedInputs) {
  // s_j = a_j^α / w_j^(1−α), the weight maximum taken over every reader's rows.
  const auto a = at::tensor({8.0f, 1.0f, 0.5f, 0.0f});
  const auto w1 = at::tensor({1.0f, 1.0f, 2.0f, 1.0f}).unsqueeze(0), w2 = at::tensor({0.5f, 1.0f, 1.0f, 1.0f}).unsqueeze(0);
  const std::vector<at::Tensor> ws = {w1, w2};
  const auto s = smoothquant_scales(a, ws, 0.5);
  EXPECT_NEAR(s[0].item<double>(), std::sqrt(8.0), 1e-5);
  EXPECT_NEAR(s[2].item<double>(), std::sqrt(0.5 / 2.0), 1e-5);
  EXPECT_EQ(s[3].item<double>(), 1.0);  // a silent channel is left alone
}

TEST(HadamardTest, FloatLogitsUnchanged) {
  struct Case {
    const char* fixture;
    const char* match;
  };
  for (const Case& k : {Case{"hf-tiny/mamba2-tiny", "*.mixer.out_proj"}, Case{"hf-tiny/mamba-tiny", "*.mixer.out_proj"},
                        Case{"hf-tiny/llama-tiny", "*.self_attn.o_proj"}}) {
    auto m = load_model(test::fixture(k.fixture));
    const auto c = random_calib(512);
    const auto before = logits(*m, c);
    const auto r = run(*m, {{"overrides", {{{"match", k.match}, {"rotation", "hadamard"}}}}}, c);
    const std::string layer = r.layers.front().layer;
    EXPECT_FALSE(at::equal(m->layer(layer).weight(), m->layer(layer).original_weight())) << k.fixture;
    EXPECT_LT(test::rel_error(logits(*m, c), before), 1e-5) << k.fixture;
    EXPECT_GT(*r.layers.front().output_sqnr_db, 100.0) << k.fixture;  // float: nothing but rounding
  }
}

TEST(HadamardTest, RotationHelpsPerTensorActivationsOnMamba) {
  // The point of Quamba's rotation: out_proj's input has outlier channels, a per-tensor 8-bit
  // scale wastes its levels on them; after H they spread over all channels.
  auto m = load_model(test::fixture("hf-tiny/mamba2-tiny"));
  const auto c = random_calib(512, 8, 32);
  const json plain = json::parse(R"({"overrides": [{"match": "*.out_proj", "activations": {"bits": 6, "strategy": "tensor"}}]})");
  json rotated = plain;
  rotated["overrides"][0]["rotation"] = "hadamard";
  const double e_plain = *row(run(*m, plain, c), "backbone.layers.1.mixer.out_proj").output_rel_mse;
  const double e_rot = *row(run(*m, rotated, c), "backbone.layers.1.mixer.out_proj").output_rel_mse;
  EXPECT_LT(e_rot, e_plain);
}

TEST(KiviTest, EightBitIsNearFloatAndErrorsGrowAsBitsShrink) {
  at::manual_seed(2);
  const auto k = at::randn({2, 64, 32});
  k.select(2, 3).mul_(10);  // an outlier channel: why keys are quantized per channel
  KvQuant s;
  s.group_size = 16;
  s.residual = 16;
  double last = 0;
  for (int bits : {8, 4, 2}) {
    s.bits = bits;
    const auto kq = kivi_keys(k, s), vq = kivi_values(k, s);
    const double ek = (kq - k).pow(2).sum().item<double>() / k.pow(2).sum().item<double>();
    const double ev = (vq - k).pow(2).sum().item<double>() / k.pow(2).sum().item<double>();
    if (bits == 8) {
      EXPECT_LT(ek, 1e-4);
      EXPECT_LT(ev, 1e-4);
    }
    EXPECT_GT(ek, last);
    last = ek;
    // The newest tokens stay exact: keys the last T mod R (here none), values the last R.
    EXPECT_TRUE(at::equal(vq.narrow(1, 48, 16), k.narrow(1, 48, 16)));
    EXPECT_FALSE(at::equal(kq.narrow(1, 48, 16), k.narrow(1, 48, 16)));
  }
  // In a trained model: 8-bit KIVI through the :k/:v points barely moves the logits, 2-bit does.
  auto m = load_model(test::demo("sotu-llama"));
  const auto c = random_calib(4096, 4, 64);
  const auto before = logits(*m, c);
  run(*m, {{"kv_cache", {{"bits", 2}, {"group_size", 16}, {"residual", 16}}}}, c);
  const double e2 = rel_fro(logits(*m, c), before);
  const auto r = run(*m, {{"kv_cache", {{"bits", 8}, {"group_size", 16}, {"residual", 16}}}}, c);
  const double e8 = rel_fro(logits(*m, c), before);
  EXPECT_LT(e8, 5e-3);
  EXPECT_GT(e2, 10 * e8);
  EXPECT_EQ(row(r, "model.layers.0.self_attn").kind, "kv_cache");
  EXPECT_GT(*row(r, "model.layers.0.self_attn").output_sqnr_db, 40.0);
  EXPECT_DOUBLE_EQ(r.size.kv_bits_per_element, 8 + 2.0);
}

// FP8 KV (vLLM's fp8 cache): one calibrated scale per module for keys and one for values, absmax /
// 448, so the largest key seen lands on E4M3's largest value; logits barely move (E4M3 keeps 3
// mantissa bits: ≈31 dB per tensor), and the scales are in the result for the exporter.
TEST(KvFp8Test, StaticScalesFromCalibrationAndNearFloatLogits) {
  auto m = load_model(test::demo("sotu-llama"));
  const auto c = random_calib(4096, 4, 64);
  const auto before = logits(*m, c);
  CalibrationOptions co;
  co.points = "model.layers.0.self_attn:k,model.layers.0.self_attn:v";
  co.weights = false;
  const auto cal = calibrate(*m, c.source(), co);
  const auto r = run(*m, {{"kv_cache", {{"method", "fp8"}}}}, c);
  const double e = rel_fro(logits(*m, c), before);
  EXPECT_LT(e, 2e-2);
  EXPECT_GT(e, 0.0);
  ASSERT_EQ(r.kv_scales.size(), 6u);
  const auto& s0 = r.kv_scales.at("model.layers.0.self_attn");
  EXPECT_DOUBLE_EQ(s0.first, cal.point("model.layers.0.self_attn:k")->all.absmax / 448.0);
  EXPECT_DOUBLE_EQ(s0.second, cal.point("model.layers.0.self_attn:v")->all.absmax / 448.0);
  const LayerResult& kv = row(r, "model.layers.0.self_attn");
  EXPECT_EQ(kv.settings.at("kv_cache").at("method"), "fp8");
  EXPECT_DOUBLE_EQ(kv.settings.at("details").at("k_scale").get<double>(), s0.first);
  EXPECT_GT(*kv.output_sqnr_db, 28.0);
  EXPECT_LT(*kv.output_sqnr_db, 36.0);
  EXPECT_DOUBLE_EQ(r.size.kv_bits_per_element, 8.0);
  // KIVI's fields have no meaning for FP8: named, not ignored.
  try {
    resolve(Recipe::parse({{"kv_cache", {{"method", "fp8"}, {"bits", 4}}}}), *m);
    FAIL() << "accepted kv_cache.bits with method fp8";
  } catch (const RecipeError& err) {
    EXPECT_NE(std::string(err.what()).find("KIVI setting"), std::string::npos) << err.what();
  }
}

TEST(ActQuantTest, ObserversPickTheirRanges) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto c = random_calib(512);
  CalibrationOptions co;
  co.points = "model.layers.0.mlp.down_proj:input";
  co.weights = false;
  co.histogram_bins = 8192;
  const auto cal = calibrate(*m, c.source(), co);
  const ActivationStats& st = cal.points.front();
  ActQuant a;
  a.observer = ActObserver::MinMax;
  EXPECT_DOUBLE_EQ(static_act_range(a, st).second, st.all.absmax);
  a.observer = ActObserver::Percentile;
  a.percentile = 99.0;
  const double p99 = static_act_range(a, st).second;
  EXPECT_LT(p99, st.all.absmax);
  EXPECT_NEAR(p99, st.all.percentiles.p99, 2 * st.all.histogram.bin_width());
  a.observer = ActObserver::Mse;
  a.bits = 4;
  const double mse = static_act_range(a, st).second;
  EXPECT_LE(mse, st.all.absmax);
  EXPECT_GT(mse, 0);
  // Per-token dynamic quantization of a conv-style [B, C, H, W] tensor runs over channels.
  at::manual_seed(3);
  const auto x = at::randn({2, 5, 3, 3});
  ActQuant tok;
  tok.strategy = ActStrategy::Token;
  tok.dynamic = true;
  const auto y = act_fake_quant(x, tok, {}, 1);
  EXPECT_LT((y - x).abs().max().item<double>(), x.abs().max().item<double>() / 127);
  EXPECT_TRUE(at::allclose(y, ops::fake_quant_per_token(x.movedim(1, -1), 8).movedim(-1, 1)));
}

TEST(CompressTest, W8A8RecordsEveryLayer) {
  auto m = load_model(test::demo("sotu-llama"));
  const auto c = random_calib(4096, 4, 64);
  const auto before = logits(*m, c);
  std::vector<std::string> messages;
  const auto r = compress(*m, resolve(*Recipe::from_name("W8A8"), *m), c, {}, [&](int64_t, int64_t, double, const std::string& msg) {
    messages.push_back(msg);
    return true;
  });
  ASSERT_EQ(r.layers.size(), 6u * 7u);
  for (const auto& l : r.layers) {
    EXPECT_EQ(l.kind, "linear");
    ASSERT_TRUE(l.weight_sqnr_db && l.output_sqnr_db) << l.layer;
    EXPECT_GT(*l.weight_sqnr_db, 35.0) << l.layer;
    EXPECT_GT(*l.output_sqnr_db, 25.0) << l.layer;
    EXPECT_EQ(l.settings["weights"]["bits"], 8);
    EXPECT_EQ(l.settings["activations"]["strategy"], "token");
    EXPECT_NEAR(*l.bits, 8 + 16.0 / m->layer(l.layer).in_features(), 1e-9);
  }
  EXPECT_FALSE(messages.empty());
  EXPECT_EQ(messages.back(), "done");
  const auto after = logits(*m, c);
  EXPECT_GT(rel_fro(after, before), 0);
  EXPECT_LT(rel_fro(after, before), 0.05);
  m->reset_compression();
  EXPECT_TRUE(at::equal(logits(*m, c), before));
}

TEST(CompressTest, GptqAndAwqThroughThePipeline) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto c = random_calib(512, 16, 32);
  auto rec = [](const char* method) {
    return json{{"default", {{"weights", {{"bits", 3}, {"strategy", "group"}, {"group_size", 16}, {"method", method}}}}}};
  };
  const auto rtn = run(*m, rec("rtn"), c);
  const auto gptq = run(*m, rec("gptq"), c);
  const auto awq = run(*m, rec("awq"), c);
  // Summed over layers, both data-driven methods reconstruct the outputs better than RTN; GPTQ
  // trades weight error for output error.
  double e_rtn = 0, e_gptq = 0, e_awq = 0, w_rtn = 0, w_gptq = 0;
  for (size_t i = 0; i < rtn.layers.size(); ++i) {
    e_rtn += *rtn.layers[i].output_rel_mse;
    e_gptq += *gptq.layers[i].output_rel_mse;
    e_awq += *awq.layers[i].output_rel_mse;
    w_rtn += *rtn.layers[i].weight_rel_mse;
    w_gptq += *gptq.layers[i].weight_rel_mse;
  }
  EXPECT_LT(e_gptq, e_rtn);
  EXPECT_LT(e_awq, e_rtn);
  EXPECT_GT(w_gptq, w_rtn);
  const auto& q = row(gptq, "model.layers.1.self_attn.q_proj");
  EXPECT_TRUE(q.settings["details"].contains("gptq_damp"));
  const auto& g = row(awq, "model.layers.1.mlp.gate_proj");
  EXPECT_TRUE(g.settings["details"].contains("awq_ratio"));
  const auto& o = row(awq, "model.layers.1.self_attn.o_proj");  // grouped-query attention: no v → o fold
  EXPECT_EQ(o.settings["details"]["awq_scale"], "none (no foldable preceding op)");
}

TEST(CompressTest, StaticActivationsAndPointsNeedCalibration) {
  auto m = load_model(test::fixture("hf-tiny/mamba2-tiny"));
  const auto plan = resolve(*Recipe::from_name("quamba"), *m);
  EXPECT_THROW(compress(*m, plan, CalibrationSet{}), Error);
  const auto c = random_calib(512);
  const auto r = compress(*m, plan, c);
  const auto& x = row(r, "backbone.layers.0.mixer:x");
  EXPECT_EQ(x.kind, "activation");
  EXPECT_GT(x.settings["details"]["scale"].get<double>(), 0);
  EXPECT_GT(*x.output_sqnr_db, 20.0);
  EXPECT_TRUE(m->hooks().has_transform("backbone.layers.0.mixer:x"));
  EXPECT_TRUE(m->hooks().has_transform("backbone.layers.0.mixer.out_proj:input"));
}

TEST(CompressTest, CancelStopsTheRun) {
  auto m = load_model(test::fixture("hf-tiny/llama-tiny"));
  const auto c = random_calib(512);
  int calls = 0;
  EXPECT_THROW(compress(*m, resolve(*Recipe::from_name("W4A16-G16"), *m), c, {},
                        [&](int64_t, int64_t, double, const std::string&) { return ++calls < 2; }),
               Cancelled);
}

TEST(MixedPrecisionTest, KnapsackMatchesBruteForce) {
  // Four units, three candidates each; every assignment enumerated.
  SensitivityResult s;
  s.candidates = {"3", "4", "8"};
  const double bits[3] = {3.1, 4.1, 8.1};
  const double dmg[4][3] = {{0.9, 0.2, 0.01}, {0.05, 0.02, 0.0}, {2.0, 0.5, 0.02}, {0.3, 0.28, 0.0}};
  const int64_t w[4] = {100, 300, 200, 400};
  for (int u = 0; u < 4; ++u) {
    SensitivityUnit unit;
    unit.name = "u" + std::to_string(u);
    unit.layers = {unit.name};
    unit.weights = w[u];
    for (int c = 0; c < 3; ++c) unit.entries.push_back({s.candidates[c], 0, dmg[u][c], bits[c], {}, {}});
    s.units.push_back(unit);
  }
  for (double budget : {3.5, 4.1, 5.0, 6.5}) {
    double best = 1e9;
    for (int code = 0; code < 81; ++code) {
      double b = 0, d = 0;
      for (int u = 0, k = code; u < 4; ++u, k /= 3) {
        b += bits[k % 3] * w[u];
        d += dmg[u][k % 3];
      }
      if (b <= budget * 1000 + 1e-9) best = std::min(best, d);
    }
    const auto mp = suggest_mixed_precision(s, budget);
    EXPECT_NEAR(mp.predicted_delta, best, 1e-9) << budget;
    EXPECT_LE(mp.average_bits, budget + 1e-9);
  }
  EXPECT_THROW(suggest_mixed_precision(s, 3.0), UsageError);
  const auto r = suggest_mixed_precision(s, 5.0).recipe(s, {{"3", {{"scheme", "W3A16"}}}, {"4", {{"scheme", "W4A16"}}}, {"8", {{"scheme", "W8A16"}}}},
                                                      "mixed");
  EXPECT_EQ(r["overrides"].size(), 4u);
  EXPECT_NO_THROW(Recipe::parse(r));
}

}  // namespace
}  // namespace quench
