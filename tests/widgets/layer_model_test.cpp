// The layer table model and its filter/sort proxy, on real checkpoints: the bundled sotu-llama,
// and llama-tiny, whose input channels 0 and 1 were planted ×8 in every projection. The
// activation columns get statistics made here, so their values and colours are known exactly.
#include <QHeaderView>
#include <QSignalSpy>
#include <QTableView>
#include <QtTest>

#include <cmath>

#include "core/models/registry.h"
#include "test_support.h"
#include "widgets/layers/heat_scale.h"
#include "widgets/layers/layer_filter_proxy.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/session/model_session.h"

using namespace quench::gui;

namespace {
// A point's statistics as a calibrate run stores them (only what the table and page read).
quench::LayerStats pointStats(const std::string& point, double absmax, int64_t outliers) {
  quench::LayerStats s;
  s.point = point;
  s.layer = point.substr(0, point.rfind(':'));
  s.absmax = absmax;
  s.p99_99 = absmax / 2;
  s.outliers = outliers;
  s.extra["channels"] = 4;
  return s;
}

QStringList namesIn(const QAbstractItemModel& m) {
  QStringList names;
  for (int r = 0; r < m.rowCount(); ++r) names << m.index(r, LayerTableModel::NameColumn).data().toString();
  return names;
}
}  // namespace

class LayerModelTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void rowsAreTheModelsLayers() {
    auto session = test::loadSession(test::demo(QStringLiteral("sotu-llama")), false);
    quench::LoadOptions opts;
    opts.materialize = false;
    auto model = quench::load_model(test::demo(QStringLiteral("sotu-llama")).toStdString(), opts);
    LayerTableModel table;
    table.setSession(session.get());
    QCOMPARE(table.rowCount(), static_cast<int>(model->layers().size()));
    QCOMPARE(table.rowCount(), 44);  // embed_tokens, 6 × (q, k, v, o, gate, up, down), lm_head
    const int down = session->rowOf("model.layers.0.mlp.down_proj");
    QVERIFY(down >= 0);
    QCOMPARE(table.index(down, LayerTableModel::KindColumn).data().toString(), QStringLiteral("Linear"));
    QCOMPARE(table.index(down, LayerTableModel::ShapeColumn).data().toString(), QStringLiteral("[256, 688]"));
    QCOMPARE(table.index(down, LayerTableModel::ParametersColumn).data(LayerTableModel::SortRole).toLongLong(),
             256LL * 688);
    // Statistics are blank, not zero, until computed.
    QCOMPARE(table.index(down, LayerTableModel::KurtosisColumn).data().toString(), QString());
    QVERIFY(!table.index(down, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).isValid());
  }

  void statisticsArriveAndColour() {
    auto session = test::loadSession(test::fixture(QStringLiteral("hf-tiny/llama-tiny")), false);
    LayerTableModel table;
    table.setSession(session.get());
    QSignalSpy changed(&table, &QAbstractItemModel::dataChanged);
    auto full = test::loadSession(test::fixture(QStringLiteral("hf-tiny/llama-tiny")), true);
    std::vector<quench::WeightStats> stats;
    for (int r = 0; r < full->layerCount(); ++r) stats.push_back(*full->weightStats(r));
    session->addWeightStats(std::move(stats));
    QCOMPARE(changed.count(), 1);

    // The column shows the statistics' outlier count, and every projection has at least one of
    // the planted channels 0 and 1 (which ones pass the threshold is core/stats' business).
    for (int r = 0; r < table.rowCount(); ++r) {
      const QString name = table.index(r, LayerTableModel::NameColumn).data().toString();
      const double outliers = table.index(r, LayerTableModel::OutliersColumn).data(LayerTableModel::SortRole).toDouble();
      QCOMPARE(outliers, static_cast<double>(session->weightStats(r)->outliers.channels.size()));
      if (!name.endsWith(QStringLiteral("_proj"))) continue;
      QVERIFY2(outliers >= 1, qPrintable(name));
      QVERIFY2(session->weightStats(r)->outliers.channels.front().channel <= 1, qPrintable(name));
      QVERIFY2(table.index(r, LayerTableModel::OutliersColumn).data(Qt::BackgroundRole).value<QColor>().isValid(),
               qPrintable(name));
    }
    // The hottest kurtosis cell is the largest kurtosis; a layer at or below the median is not coloured.
    int hottest = 0, coldest = 0;
    for (int r = 0; r < table.rowCount(); ++r) {
      const double k = table.index(r, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).toDouble();
      if (k > table.index(hottest, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).toDouble()) hottest = r;
      if (k < table.index(coldest, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole).toDouble()) coldest = r;
    }
    const double hot = table.index(hottest, LayerTableModel::KurtosisColumn).data(LayerTableModel::HeatRole).toDouble();
    QVERIFY(hot > 0);
    QCOMPARE(table.index(coldest, LayerTableModel::KurtosisColumn).data(LayerTableModel::HeatRole).toDouble(), 0.0);
    QVERIFY(!table.index(coldest, LayerTableModel::KurtosisColumn).data(Qt::BackgroundRole).isValid());
  }

  void globFilter_data() {
    QTest::addColumn<QString>("glob");
    QTest::addColumn<int>("rows");
    QTest::newRow("everything") << QString() << 44;
    QTest::newRow("mlp of every block") << QStringLiteral("model.layers.*.mlp.*") << 18;
    QTest::newRow("substring without wildcards") << QStringLiteral("down_proj") << 6;
    QTest::newRow("alternatives") << QStringLiteral("*q_proj, *k_proj") << 12;
    QTest::newRow("one block") << QStringLiteral("model.layers.3.*") << 7;
    QTest::newRow("single character") << QStringLiteral("model.layers.?.self_attn.o_proj") << 6;
    QTest::newRow("anchored glob") << QStringLiteral("lm_head") << 1;
    QTest::newRow("no match") << QStringLiteral("*conv*") << 0;
    QTest::newRow("trailing comma while typing") << QStringLiteral("lm_head,") << 1;
  }
  void globFilter() {
    QFETCH(QString, glob);
    QFETCH(int, rows);
    auto session = test::loadSession(test::demo(QStringLiteral("sotu-llama")), false);
    LayerTableModel table;
    table.setSession(session.get());
    LayerFilterProxy proxy;
    proxy.setSourceModel(&table);
    proxy.setGlob(glob);
    QCOMPARE(proxy.rowCount(), rows);
    if (glob == QLatin1String("model.layers.*.mlp.*"))
      for (const QString& n : namesIn(proxy)) QVERIFY2(n.contains(QStringLiteral(".mlp.")), qPrintable(n));
  }

  // Conditions on the statistics: all must hold, together with any of the name globs; a layer
  // without the value fails them; a term not understood is named and filters nothing.
  void statisticFilter() {
    auto session = test::loadSession(test::fixture(QStringLiteral("hf-tiny/llama-tiny")), true);
    LayerTableModel table;
    table.setSession(session.get());
    LayerFilterProxy proxy;
    proxy.setSourceModel(&table);
    auto expected = [&](auto keep) {
      int n = 0;
      for (int r = 0; r < session->layerCount(); ++r) n += keep(*session->weightStats(r), session->layer(r).name) ? 1 : 0;
      return n;
    };
    proxy.setGlob(QStringLiteral("outliers > 0"));
    QVERIFY(proxy.error().isEmpty());
    QVERIFY(proxy.hasConditions());
    const int with_outliers = expected([](const quench::WeightStats& s, const std::string&) { return !s.outliers.channels.empty(); });
    QVERIFY(with_outliers > 0 && with_outliers < session->layerCount());
    QCOMPARE(proxy.rowCount(), with_outliers);
    proxy.setGlob(QStringLiteral("mlp, Kurtosis>=3.2, outliers >= 1"));
    QCOMPARE(proxy.rowCount(), expected([](const quench::WeightStats& s, const std::string& n) {
               return n.find("mlp") != std::string::npos && s.all.kurtosis >= 3.2 && !s.outliers.channels.empty();
             }));
    proxy.setGlob(QStringLiteral("params < 5000"));
    QCOMPARE(proxy.rowCount(), expected([](const quench::WeightStats& s, const std::string&) {
               int64_t n = 1;
               for (int64_t d : s.shape) n *= d;
               return n < 5000;
             }));
    // No run yet: nothing has an SQNR, so nothing passes a condition on it.
    proxy.setGlob(QStringLiteral("sqnr < 100"));
    QCOMPARE(proxy.rowCount(), 0);
    proxy.setGlob(QStringLiteral("sharpness > 2"));
    QVERIFY(proxy.error().contains(QStringLiteral("sharpness")));
    QCOMPARE(proxy.rowCount(), session->layerCount());
    proxy.setGlob(QStringLiteral("kurtosis > lots"));
    QVERIFY(!proxy.error().isEmpty());
  }

  void sortsByRawValuesWithMissingLast() {
    auto session = test::loadSession(test::demo(QStringLiteral("sotu-llama")), false);
    auto full = test::loadSession(test::demo(QStringLiteral("sotu-llama")), true);
    // Only the MLP layers get statistics: the rest must sort after them in both orders.
    std::vector<quench::WeightStats> some;
    for (int r = 0; r < full->layerCount(); ++r)
      if (full->layer(r).name.find(".mlp.") != std::string::npos) some.push_back(*full->weightStats(r));
    session->addWeightStats(std::move(some));
    LayerTableModel table;
    table.setSession(session.get());
    LayerFilterProxy proxy;
    proxy.setSourceModel(&table);
    for (Qt::SortOrder order : {Qt::DescendingOrder, Qt::AscendingOrder}) {
      proxy.sort(LayerTableModel::KurtosisColumn, order);
      QVariant previous;
      for (int r = 0; r < proxy.rowCount(); ++r) {
        const QVariant v = proxy.index(r, LayerTableModel::KurtosisColumn).data(LayerTableModel::SortRole);
        if (r < 18) {
          QVERIFY2(v.isValid(), "layers with statistics come first");
          if (previous.isValid())
            QVERIFY(order == Qt::DescendingOrder ? previous.toDouble() >= v.toDouble() : previous.toDouble() <= v.toDouble());
          previous = v;
        } else {
          QVERIFY2(!v.isValid(), "layers without statistics come last");
        }
      }
    }
    // Numeric, not text, order: 4096×256 parameters sort above 256×688.
    proxy.sort(LayerTableModel::ParametersColumn, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, LayerTableModel::ParametersColumn).data(LayerTableModel::SortRole).toLongLong(), 4096LL * 256);
    proxy.sort(LayerTableModel::NameColumn, Qt::AscendingOrder);
    QCOMPARE(proxy.index(0, LayerTableModel::NameColumn).data().toString(), QStringLiteral("lm_head"));

    // A first click on a header: statistics largest first, names A to Z, SQNR worst (lowest) first.
    QTableView view;
    view.setModel(&proxy);
    view.setSortingEnabled(true);
    view.sortByColumn(-1, Qt::AscendingOrder);
    view.resize(1200, 400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    auto click = [&](int column) {
      QHeaderView* h = view.horizontalHeader();
      QTest::mouseClick(h->viewport(), Qt::LeftButton, {}, QPoint(h->sectionViewportPosition(column) + 5, h->height() / 2));
      return h->sortIndicatorOrder();
    };
    QCOMPARE(click(LayerTableModel::KurtosisColumn), Qt::DescendingOrder);
    QCOMPARE(click(LayerTableModel::KurtosisColumn), Qt::AscendingOrder);  // a second click turns it round
    QCOMPARE(click(LayerTableModel::NameColumn), Qt::AscendingOrder);
    QCOMPARE(click(LayerTableModel::ParametersColumn), Qt::DescendingOrder);
    QCOMPARE(click(LayerTableModel::ErrorColumn), Qt::AscendingOrder);
  }

  void activationColumns() {
    auto session = test::loadSession(test::demo(QStringLiteral("sotu-llama")), true);
    LayerTableModel table;
    table.setSession(session.get());
    const int q = session->rowOf("model.layers.0.self_attn.q_proj"), up = session->rowOf("model.layers.0.mlp.up_proj");
    const int down = session->rowOf("model.layers.0.mlp.down_proj"), head = session->rowOf("lm_head");
    // Before a calibration the columns are empty and say how to fill them.
    QVERIFY(!table.index(q, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).isValid());
    QVERIFY(table.index(q, LayerTableModel::ActAbsmaxColumn).data(Qt::ToolTipRole).toString().contains(QStringLiteral("Calibrate")));
    QCOMPARE(table.headerData(LayerTableModel::ActAbsmaxColumn, Qt::Horizontal, Qt::DisplayRole).toString(), QStringLiteral("|X| max"));

    QSignalSpy changed(&table, &QAbstractItemModel::dataChanged);
    // Median absmax 2: down_proj's input at 8× the median is the hottest; an output point and a
    // weight row (no ':') must not land in the input columns.
    session->setActivations({7, QStringLiteral("calib")},
                            {pointStats("model.layers.0.self_attn.q_proj:input", 2, 0), pointStats("model.layers.0.mlp.up_proj:input", 2, 1),
                             pointStats("model.layers.0.mlp.down_proj:input", 16, 3), pointStats("lm_head:input", 1, 0),
                             pointStats("model.layers.0.mlp.down_proj:output", 1000, 9), pointStats("model.layers.1.mlp.up_proj", 500, 9)});
    QVERIFY(!changed.isEmpty());
    QCOMPARE(session->activationRun().experiment_id, 7);
    QCOMPARE(table.index(down, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).toDouble(), 16.0);
    QCOMPARE(table.index(down, LayerTableModel::ActP9999Column).data(LayerTableModel::SortRole).toDouble(), 8.0);
    QCOMPARE(table.index(down, LayerTableModel::ActOutliersColumn).data().toString(), QStringLiteral("3"));
    QCOMPARE(table.index(down, LayerTableModel::ActAbsmaxColumn).data().toString(), QStringLiteral("16"));
    QVERIFY(std::abs(table.index(down, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::HeatRole).toDouble() - 1.0) < 1e-9);
    QVERIFY(table.index(down, LayerTableModel::ActAbsmaxColumn).data(Qt::BackgroundRole).value<QColor>().isValid());
    QCOMPARE(table.index(q, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::HeatRole).toDouble(), 0.0);
    QVERIFY(!table.index(q, LayerTableModel::ActAbsmaxColumn).data(Qt::BackgroundRole).isValid());
    QVERIFY(table.index(down, LayerTableModel::ActAbsmaxColumn).data(Qt::ToolTipRole).toString().startsWith(QStringLiteral("8.00×")));
    // Counts: 3 (the most) is the hottest, 0 cold.
    QCOMPARE(table.index(down, LayerTableModel::ActOutliersColumn).data(LayerTableModel::HeatRole).toDouble(), 1.0);
    QCOMPARE(table.index(head, LayerTableModel::ActOutliersColumn).data(LayerTableModel::HeatRole).toDouble(), 0.0);
    QVERIFY(!table.index(session->rowOf("model.layers.1.mlp.up_proj"), LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).isValid());
    // The weight columns are untouched.
    QCOMPARE(table.index(down, LayerTableModel::AbsmaxColumn).data(LayerTableModel::SortRole).toDouble(),
             session->weightStats(down)->all.absmax);

    // Sorting: by value, either way, layers without a point last; filtering keeps the values.
    LayerFilterProxy proxy;
    proxy.setSourceModel(&table);
    proxy.sort(LayerTableModel::ActAbsmaxColumn, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, LayerTableModel::NameColumn).data().toString(), QStringLiteral("model.layers.0.mlp.down_proj"));
    QCOMPARE(proxy.index(3, LayerTableModel::NameColumn).data().toString(), QStringLiteral("lm_head"));
    QVERIFY(!proxy.index(4, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).isValid());
    proxy.sort(LayerTableModel::ActAbsmaxColumn, Qt::AscendingOrder);
    QCOMPARE(proxy.index(0, LayerTableModel::NameColumn).data().toString(), QStringLiteral("lm_head"));
    QVERIFY(!proxy.index(proxy.rowCount() - 1, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).isValid());
    proxy.setGlob(QStringLiteral("model.layers.0.mlp.*"));
    QCOMPARE(proxy.rowCount(), 3);
    QCOMPARE(proxy.index(0, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).toDouble(), 2.0);  // up, then down; gate has none
    QCOMPARE(proxy.index(1, LayerTableModel::NameColumn).data().toString(), QStringLiteral("model.layers.0.mlp.down_proj"));

    // A second calibration replaces the first.
    session->setActivations({8, QStringLiteral("again")}, {pointStats("model.layers.0.self_attn.q_proj:input", 3, 0)});
    QVERIFY(!table.index(down, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).isValid());
    QCOMPARE(table.index(q, LayerTableModel::ActAbsmaxColumn).data(LayerTableModel::SortRole).toDouble(), 3.0);
    QCOMPARE(static_cast<int>(session->pointsOf(up).size()), 0);
  }

  void pointsOfAMambaMixerLayer() {
    auto session = test::loadSession(test::demo(QStringLiteral("sotu-mamba2")), false);
    std::vector<quench::LayerStats> points;
    for (const char* p : {"backbone.layers.2.mixer.in_proj:input", "backbone.layers.2.mixer:x", "backbone.layers.2.mixer:dt",
                          "backbone.layers.2.mixer:B", "backbone.layers.2.mixer:C", "backbone.layers.2.mixer:y",
                          "backbone.layers.2.mixer.out_proj:input", "backbone.layers.3.mixer:x"})
      points.push_back(pointStats(p, 1, 0));
    session->setActivations({1, QStringLiteral("m")}, std::move(points));
    const int out = session->rowOf("backbone.layers.2.mixer.out_proj");
    QVERIFY(out >= 0);
    QStringList names;
    for (const quench::LayerStats* s : session->pointsOf(out)) names << QString::fromStdString(s->point);
    // Its own point first, then the mixer's, never another layer's or block's.
    QCOMPARE(names, QStringLiteral("backbone.layers.2.mixer.out_proj:input backbone.layers.2.mixer:x backbone.layers.2.mixer:dt "
                                   "backbone.layers.2.mixer:B backbone.layers.2.mixer:C backbone.layers.2.mixer:y")
                        .split(QLatin1Char(' ')));
    QCOMPARE(QString::fromStdString(session->inputStats(out)->point), QStringLiteral("backbone.layers.2.mixer.out_proj:input"));
  }

  void heatScale() {
    HeatScale ratio(HeatScale::Mode::RatioToMedian, {1, 2, 2, 2, 16});
    QCOMPARE(ratio.median(), 2.0);
    QCOMPARE(ratio.heat(2), 0.0);
    QCOMPARE(ratio.heat(1), 0.0);
    QVERIFY(std::abs(ratio.heat(16) - 1.0) < 1e-12);  // 8× the median saturates
    QVERIFY(ratio.heat(4) > 0.2 && ratio.heat(4) < 0.5);
    QVERIFY(!HeatScale::color(0).isValid());
    QVERIFY(HeatScale::color(1).isValid());
    HeatScale count(HeatScale::Mode::Count, {0, 0, 1, 4});
    QCOMPARE(count.heat(0), 0.0);
    QVERIFY(count.heat(1) >= 0.3);
    QCOMPARE(count.heat(4), 1.0);
    QCOMPARE(HeatScale().heat(5), 0.0);  // no values, no heat
  }
};

QTEST_MAIN(LayerModelTest)
#include "layer_model_test.moc"
