// The weight statistics job as the window runs it, on a generated Llama-shaped checkpoint of
// ~49 M bf16 parameters:
// - the rate: a 1.24 B-parameter model must finish in 60 s on 2 cores (20.7 M parameters/s), so
//   each thread the job has must do at least 10.3 M parameters/s (the job ran at 0.7 M/s/thread
//   when the issue was filed; the fused pass does ~40 M/s/thread on this machine's cores);
// - the layer on screen is computed next, not in its turn;
// - reopening reads the kept result (and says so in the log); Recompute computes again.
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <ATen/Parallel.h>

#include <fstream>

#include "core/io/safetensors.h"
#include "test_support.h"
#include "widgets/jobs/log_pane.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/session/model_session.h"
#include "widgets/window/main_window.h"
#include "widgets/window/settings.h"

using namespace quench::gui;

namespace {
constexpr int kTimeoutMs = 120000;
constexpr double kRequiredPerThread = 1.24e9 / 60.0 / 2.0;  // parameters per second per thread

// A Llama of Llama-3.2-1B's block shapes at 1024 wide, 4 blocks, random bf16 weights.
int64_t writeLlama(const QString& dir) {
  const int64_t hidden = 1024, inter = 2816, layers = 4, heads = 16, kv = 4, head_dim = 64, vocab = 2048;
  std::ofstream(dir.toStdString() + "/config.json")
      << R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024, "intermediate_size": 2816,
            "num_hidden_layers": 4, "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 64, "vocab_size": 2048,
            "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "hidden_act": "silu",
            "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
  std::vector<std::pair<std::string, at::Tensor>> t;
  int64_t params = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    at::Tensor w = (at::randn(shape, at::kFloat) * 0.02).to(at::kBFloat16);
    params += w.numel();
    t.emplace_back(name, w);
  };
  add("model.embed_tokens.weight", {vocab, hidden});
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "self_attn.q_proj.weight", {heads * head_dim, hidden});
    add(p + "self_attn.k_proj.weight", {kv * head_dim, hidden});
    add(p + "self_attn.v_proj.weight", {kv * head_dim, hidden});
    add(p + "self_attn.o_proj.weight", {hidden, heads * head_dim});
    add(p + "mlp.gate_proj.weight", {inter, hidden});
    add(p + "mlp.up_proj.weight", {inter, hidden});
    add(p + "mlp.down_proj.weight", {hidden, inter});
    t.emplace_back(p + "input_layernorm.weight", at::ones({hidden}, at::kBFloat16));
    t.emplace_back(p + "post_attention_layernorm.weight", at::ones({hidden}, at::kBFloat16));
  }
  t.emplace_back("model.norm.weight", at::ones({hidden}, at::kBFloat16));
  add("lm_head.weight", {vocab, hidden});
  quench::save_safetensors(dir.toStdString() + "/model.safetensors", t);
  return params;
}
}  // namespace

class WeightStatsJobTest : public QObject {
  Q_OBJECT

 private:
  QTemporaryDir dir_;
  QString model_;
  int64_t params_ = 0;

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    model_ = dir_.filePath(QStringLiteral("llama-49m"));
    QVERIFY(QDir().mkpath(model_));
    params_ = writeLlama(model_);
    QVERIFY(params_ > 45'000'000);
  }

  void theRateMeetsOneBillionParametersInAMinuteOnTwoCores() {
    Settings settings(dir_.filePath(QStringLiteral("rate.ini")));
    MainWindow w(settings);
    w.show();
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    QElapsedTimer clock;
    clock.start();
    w.openModel(model_);
    QVERIFY(ready.wait(kTimeoutMs));
    const double seconds = clock.elapsed() / 1000.0;  // opening included
    QCOMPARE(w.session()->weightStatsCount(), w.session()->layerCount());
    const int threads = at::get_num_threads();
    const double per_thread = params_ / seconds / threads;
    const QString report = QStringLiteral("%1 parameters in %2 s on %3 thread(s): %4 M/s per thread (required %5 M/s)")
                               .arg(params_)
                               .arg(seconds, 0, 'f', 2)
                               .arg(threads)
                               .arg(per_thread / 1e6, 0, 'f', 1)
                               .arg(kRequiredPerThread / 1e6, 0, 'f', 1);
    qInfo("%s", qPrintable(report));
    QVERIFY2(per_thread >= kRequiredPerThread, qPrintable(report));
  }

  void theLayerOnScreenGoesNext() {
    QTemporaryDir cache;  // nothing kept from the test above
    qputenv("XDG_CACHE_HOME", cache.path().toLocal8Bit());
    Settings settings(dir_.filePath(QStringLiteral("order.ini")));
    MainWindow w(settings);
    w.show();
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    QStringList arrived;
    const QString target = QStringLiteral("model.layers.3.mlp.down_proj");
    connect(&w, &MainWindow::modelOpened, this, [&] {
      connect(w.session(), &ModelSession::weightStatsAdded, this, [&](const QList<int>& rows) {
        for (int r : rows) arrived << QString::fromStdString(w.session()->layer(r).name);
      });
      QVERIFY(w.showLayer(target));  // as a user clicking it while the job starts
    });
    w.openModel(model_);
    QVERIFY(ready.wait(kTimeoutMs));
    QCOMPARE(arrived.size(), w.session()->layerCount());
    const int in_order = w.session()->rowOf(target.toStdString());
    QVERIFY2(arrived.indexOf(target) < 4, qPrintable(arrived.join(QStringLiteral(", "))));
    QVERIFY(in_order > 20);
  }

  void reopeningReadsTheKeptResultAndRecomputeComputes() {
    QTemporaryDir cache;
    qputenv("XDG_CACHE_HOME", cache.path().toLocal8Bit());
    Settings settings(dir_.filePath(QStringLiteral("cache.ini")));
    MainWindow w(settings);
    w.show();
    LogPane* log = w.findChild<LogPane*>();
    QSignalSpy ready(&w, &MainWindow::weightStatisticsReady);
    w.openModel(model_);
    QVERIFY(ready.wait(kTimeoutMs));
    QVERIFY(!log->toPlainText().contains(QStringLiteral("kept from an earlier pass")));
    const double kurtosis = w.session()->weightStats(5)->all.kurtosis;
    QElapsedTimer clock;
    clock.start();
    w.openModel(model_);
    QVERIFY(ready.wait(kTimeoutMs));
    QVERIFY2(log->toPlainText().contains(QStringLiteral("kept from an earlier pass")), qPrintable(log->toPlainText()));
    QCOMPARE(w.session()->weightStatsCount(), w.session()->layerCount());
    QCOMPARE(w.session()->weightStats(5)->all.kurtosis, kurtosis);
    qInfo("reopened with its statistics in %lld ms", static_cast<long long>(clock.elapsed()));
    // Model → Recompute Weight Statistics computes again.
    const int kept = static_cast<int>(log->toPlainText().count(QStringLiteral("kept from an earlier pass")));
    w.computeWeightStatistics();
    QVERIFY(ready.wait(kTimeoutMs));
    QCOMPARE(static_cast<int>(log->toPlainText().count(QStringLiteral("kept from an earlier pass"))), kept);
  }
};

QTEST_MAIN(WeightStatsJobTest)
#include "weight_stats_job_test.moc"
