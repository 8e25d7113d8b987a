#include "widgets/experiments/compare_window.h"
#include <QDateTime>

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QRegularExpression>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSignalBlocker>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "core/io/atomic_file.h"
#include "core/store/metrics.h"
#include "core/store/store.h"
#include "core/util/csv.h"
#include "core/util/error.h"
#include "widgets/plots/bar_plot.h"
#include "widgets/plots/scatter_plot.h"
#include "widgets/util/save_path.h"

namespace quench::gui {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kMiB = 1024.0 * 1024.0;

QString runLabel(const ExperimentSummary& s) { return QStringLiteral("#%1 %2").arg(s.id).arg(QString::fromStdString(s.name)); }

QString csvField(const QString& s) { return QString::fromStdString(csv_field(s.toStdString())); }

// Large counts (bytes, tokens) in full with separators; everything else to six significant digits.
QString valueText(double v) {
  if (std::abs(v) >= 1e5 && std::abs(v) < 1e15 && v == std::floor(v)) return QLocale().toString(static_cast<qlonglong>(v));
  return QString::number(v, 'g', 6);
}

// What a metric is called in the table (the stored key stays in the CSV and the cell's tooltip).
QString metricLabel(const std::string& key) { return QString::fromStdString(metric_label(key)); }

bool isBytes(const std::string& key) { return key.size() > 6 && key.compare(key.size() - 6, 6, "_bytes") == 0; }

// A value as the table shows it: sizes as people say them, the rest as valueText.
QString metricValueText(const std::string& key, double v) {
  if (isBytes(key) && std::isfinite(v)) return QLocale().formattedDataSize(static_cast<qint64>(std::llround(v)), 2);
  return valueText(v);
}

// The first number in a module name ("model.layers.12.mlp" → 12), −1 when none.
int blockOf(const QString& name) {
  static const QRegularExpression digits(QStringLiteral("\\.(\\d+)\\."));
  const auto m = digits.match(name);
  return m.hasMatch() ? m.captured(1).toInt() : -1;
}

QString number(double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 10); }

// "model.layers.0.mlp.down_proj" → "0.mlp.down_proj" when every name shares "model.layers.".
QStringList shortNames(const QStringList& names) {
  if (names.size() < 2) return names;
  QString prefix = names.front();
  for (const QString& n : names) {
    int i = 0;
    while (i < prefix.size() && i < n.size() && prefix[i] == n[i]) ++i;
    prefix.truncate(i);
  }
  prefix.truncate(prefix.lastIndexOf(QLatin1Char('.')) + 1);
  QStringList out;
  for (const QString& n : names) out << n.mid(prefix.size());
  return out;
}
}  // namespace

CompareWindow::CompareWindow(Store& store, const QList<int64_t>& ids, QWidget* parent)
    : QWidget(parent, Qt::Window), tabs_(new QTabWidget(this)), metrics_(new QTableWidget(this)), layer_metric_(new QComboBox(this)),
      layer_plot_(new BarPlot(this)), pareto_(new ScatterPlot(this)), pareto_x_(new QComboBox(this)), pareto_y_(new QComboBox(this)),
      pareto_note_(new QLabel(this)), layer_table_(new QTableWidget(this)),
      runs_table_(new QTableWidget(this)), recipes_(new QPlainTextEdit(this)) {
  setObjectName(QStringLiteral("compareWindow"));
  setAttribute(Qt::WA_DeleteOnClose);
  // Closed as other windows of its kind are: Escape, or the platform's Close (Ctrl+W).
  for (const QKeySequence& k : {QKeySequence(Qt::Key_Escape), QKeySequence(QKeySequence::Close)}) {
    auto* sc = new QShortcut(k, this);
    sc->setContext(Qt::WindowShortcut);
    connect(sc, &QShortcut::activated, this, &QWidget::close);
  }
  QUENCH_CHECK(!ids.isEmpty(), "compare: select one run (its details) or more (side by side)");
  for (int64_t id : ids) runs_.push_back(store.get(id));
  // Deltas read as what compression cost: against an evaluation of a model as stored (the float
  // baseline) when one is compared, else against the oldest run; the rest in the order they ran.
  std::stable_sort(runs_.begin(), runs_.end(), [](const ExperimentDetail& a, const ExperimentDetail& b) { return a.summary.id < b.summary.id; });
  const auto baseline = std::find_if(runs_.begin(), runs_.end(), [](const ExperimentDetail& r) { return r.summary.kind == RunKind::Evaluate; });
  if (baseline != runs_.end()) std::rotate(runs_.begin(), baseline, baseline + 1);
  comparison_ = compare_experiments(runs_);
  QStringList labels;
  for (const auto& r : runs_) labels << runLabel(r.summary);
  setWindowTitle(runs_.size() == 1 ? tr("Run %1 — Quench").arg(labels.front()) : tr("Compare %1 — Quench").arg(labels.join(QStringLiteral(", "))));

  // The quality metric: perplexity for language models, top-1 for classifiers.
  quality_ = QString::fromLatin1(metric_names::kPerplexity);
  bool has_perplexity = false, has_top1 = false;
  for (const auto& r : runs_)
    for (const auto& m : r.metrics) {
      has_perplexity = has_perplexity || m.name == metric_names::kPerplexity;
      has_top1 = has_top1 || m.name == metric_names::kTop1;
    }
  if (!has_perplexity && has_top1) quality_ = QString::fromLatin1(metric_names::kTop1);

  metrics_->setObjectName(QStringLiteral("compareMetrics"));
  metrics_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  metrics_->verticalHeader()->setVisible(false);
  metrics_->setAlternatingRowColors(true);
  layer_plot_->setObjectName(QStringLiteral("compareLayerPlot"));
  pareto_->setObjectName(QStringLiteral("comparePareto"));
  layer_metric_->setObjectName(QStringLiteral("layerMetric"));
  layer_metric_->addItem(tr("output SQNR (dB, higher is better)"), QStringLiteral("output_sqnr_db"));
  layer_metric_->addItem(tr("weight SQNR (dB, higher is better)"), QStringLiteral("weight_sqnr_db"));
  layer_metric_->addItem(tr("bits per weight"), QStringLiteral("bits"));
  connect(layer_metric_, &QComboBox::currentIndexChanged, this, &CompareWindow::fillLayers);

  auto* layers_page = new QWidget(this);
  auto* layers_layout = new QVBoxLayout(layers_page);
  auto* metric_row = new QHBoxLayout();
  metric_row->addWidget(new QLabel(tr("Per layer:"), layers_page));
  metric_row->addWidget(layer_metric_);
  metric_row->addStretch(1);
  layers_layout->addLayout(metric_row);
  layers_layout->addWidget(layer_plot_, 1);
  auto* pareto_page = new QWidget(this);
  auto* pareto_layout = new QVBoxLayout(pareto_page);
  auto* axes_row = new QHBoxLayout();
  pareto_x_->setObjectName(QStringLiteral("paretoX"));
  pareto_y_->setObjectName(QStringLiteral("paretoY"));
  axes_row->addWidget(new QLabel(tr("Across:"), pareto_page));
  axes_row->addWidget(pareto_x_);
  axes_row->addWidget(new QLabel(tr("Up:"), pareto_page));
  axes_row->addWidget(pareto_y_);
  axes_row->addStretch(1);
  pareto_layout->addLayout(axes_row);
  pareto_note_->setWordWrap(true);
  pareto_layout->addWidget(pareto_, 1);
  pareto_layout->addWidget(pareto_note_);
  tabs_->addTab(metrics_, tr("Metrics"));
  tabs_->addTab(layers_page, tr("Per-layer error"));
  tabs_->addTab(pareto_page, tr("Trade-offs"));
  for (QTableWidget* t : {layer_table_, runs_table_}) {
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->verticalHeader()->setVisible(false);
    t->setAlternatingRowColors(true);
    t->setWordWrap(false);
  }
  layer_table_->setObjectName(QStringLiteral("compareLayerTable"));
  layer_table_->setSortingEnabled(true);
  layer_table_->setTextElideMode(Qt::ElideLeft);
  tabs_->addTab(layer_table_, tr("Layer table"));
  runs_table_->setObjectName(QStringLiteral("compareRuns"));
  recipes_->setObjectName(QStringLiteral("compareRecipes"));
  recipes_->setReadOnly(true);
  recipes_->setLineWrapMode(QPlainTextEdit::NoWrap);
  recipes_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  auto* runs_page = new QWidget(this);
  auto* runs_layout = new QVBoxLayout(runs_page);
  runs_layout->addWidget(runs_table_);
  runs_layout->addWidget(new QLabel(tr("Recipes:"), runs_page));
  runs_layout->addWidget(recipes_, 1);
  tabs_->addTab(runs_page, runs_.size() == 1 ? tr("Run") : tr("Runs"));

  auto* export_plot = new QPushButton(tr("Export Plot…"), this);
  export_plot->setObjectName(QStringLiteral("exportPlot"));
  auto* export_csv = new QPushButton(tr("Export Table as CSV…"), this);
  export_csv->setObjectName(QStringLiteral("exportCsv"));
  auto* export_report = new QPushButton(tr("Export Report…"), this);
  export_report->setObjectName(QStringLiteral("exportReport"));
  export_report->setToolTip(tr("One HTML file with the runs, the metrics, the plots and the recipes, to share"));
  connect(tabs_, &QTabWidget::currentChanged, this, [this, export_plot] { export_plot->setEnabled(currentPlot() != nullptr); });
  export_plot->setEnabled(false);
  auto ask = [this](const QString& title, const QString& filters, const QString& suffix, auto write) {
    const QString base = runs_.size() == 1 ? QStringLiteral("run-%1").arg(runs_.front().summary.id) : QStringLiteral("compare");
    QString path = QFileDialog::getSaveFileName(this, title, suggestedSavePath(base + suffix), filters);
    rememberSavePath(path);
    if (path.isEmpty()) return;
    try {
      write(path);
    } catch (const std::exception& e) {
      QMessageBox::warning(this, title, QString::fromStdString(e.what()));
    }
  };
  connect(export_plot, &QPushButton::clicked, this, [this, ask] {
    ask(tr("Export Plot"), tr("PNG image (*.png);;SVG drawing (*.svg)"), QStringLiteral(".png"), [this](const QString& p) { exportPlot(p); });
  });
  connect(export_csv, &QPushButton::clicked, this, [this, ask] {
    ask(tr("Export Table"), tr("CSV (*.csv)"), QStringLiteral(".csv"), [this](const QString& p) { exportCsv(p); });
  });
  connect(export_report, &QPushButton::clicked, this, [this, ask] {
    ask(tr("Export Report"), tr("HTML (*.html)"), QStringLiteral(".html"), [this](const QString& p) { exportReport(p); });
  });
  auto* header = new QLabel(runs_.size() == 1                           ? tr("Run %1: select it with others in the Experiments tab to compare.").arg(labels.front())
                            : runs_.front().summary.kind == RunKind::Evaluate ? tr("Deltas are against the baseline evaluation %1.").arg(labels.front())
                                                                       : tr("Deltas are against the oldest run, %1.").arg(labels.front()),
                            this);
  header->setObjectName(QStringLiteral("deltaReference"));
  auto* bottom = new QHBoxLayout();
  bottom->addWidget(header, 1);
  bottom->addWidget(export_plot);
  bottom->addWidget(export_csv);
  bottom->addWidget(export_report);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(tabs_, 1);
  layout->addLayout(bottom);

  fillMetrics();
  fillLayers();
  loadModelRuns(store);
  fillPareto();
  connect(pareto_x_, &QComboBox::currentIndexChanged, this, &CompareWindow::fillPareto);
  connect(pareto_y_, &QComboBox::currentIndexChanged, this, &CompareWindow::fillPareto);
  fillLayerTable();
  fillRuns();
  resize(1280, 820);
}

void CompareWindow::fillMetrics() {
  const size_t n = runs_.size();
  QStringList headers = {tr("Metric"), tr("Data")};
  for (const auto& r : runs_) headers << runLabel(r.summary);
  for (size_t i = 1; i < n; ++i) headers << tr("Δ #%1").arg(runs_[i].summary.id);
  metrics_->setColumnCount(static_cast<int>(headers.size()));
  metrics_->setHorizontalHeaderLabels(headers);
  metrics_->setRowCount(static_cast<int>(comparison_.metrics.size()));
  for (int row = 0; row < static_cast<int>(comparison_.metrics.size()); ++row) {
    const MetricComparison& m = comparison_.metrics[static_cast<size_t>(row)];
    auto* label = new QTableWidgetItem(metricLabel(m.name));
    label->setToolTip(QString::fromStdString(m.name));
    metrics_->setItem(row, 0, label);
    QString data = QFileInfo(QString::fromStdString(m.dataset)).fileName();
    if (!m.split.empty()) data += QStringLiteral(" (%1)").arg(QString::fromStdString(m.split));
    metrics_->setItem(row, 1, new QTableWidgetItem(data));
    for (size_t i = 0; i < n; ++i) {
      const auto& v = m.values[i];
      auto* item = new QTableWidgetItem(v ? metricValueText(m.name, *v) : tr("—"));
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      metrics_->setItem(row, static_cast<int>(2 + i), item);
    }
    for (size_t i = 1; i < n; ++i) {
      const auto d = m.delta(i);
      QString text = tr("—");
      auto* item = new QTableWidgetItem();
      if (d) {
        text = isBytes(m.name) ? QStringLiteral("%1%2").arg(*d >= 0 ? QStringLiteral("+") : QStringLiteral("−")).arg(metricValueText(m.name, std::abs(*d)))
                               : QStringLiteral("%1%2").arg(*d >= 0 ? QStringLiteral("+") : QString()).arg(*d, 0, 'g', 5);
        if (m.values[0] && *m.values[0] != 0) text += QStringLiteral(" (%1%2%)").arg(*d >= 0 ? QStringLiteral("+") : QString()).arg(100.0 * *d / std::abs(*m.values[0]), 0, 'f', 1);
        const Better dir = better_direction(m.name);
        const bool better = (dir == Better::Lower && *d < 0) || (dir == Better::Higher && *d > 0);
        const bool worse = (dir == Better::Lower && *d > 0) || (dir == Better::Higher && *d < 0);
        if (better) item->setForeground(QColor(30, 130, 60));
        if (worse) item->setForeground(QColor(192, 57, 43));
      }
      item->setText(text);
      item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      metrics_->setItem(row, static_cast<int>(1 + n + i), item);
    }
  }
  metrics_->resizeColumnsToContents();
}

void CompareWindow::fillLayers() {
  const std::string field = layer_metric_->currentData().toString().toStdString();
  layer_names_.clear();
  layer_series_.clear();
  layer_values_.clear();
  std::set<std::string> seen;
  for (const auto& r : runs_)
    for (const auto& l : r.layers)
      if (l.kind != "kv_cache" && l.kind != "activation" && l.kind != "block" && seen.insert(l.layer).second)
        layer_names_ << QString::fromStdString(l.layer);
  // Block by block (runs may reach different layers), first-seen order within a block.
  std::stable_sort(layer_names_.begin(), layer_names_.end(), [](const QString& a, const QString& b) { return blockOf(a) < blockOf(b); });
  std::vector<BarPlot::Series> series;
  for (const auto& r : runs_) {
    if (r.layers.empty()) continue;  // evaluate runs measure the whole model only
    std::vector<double> values(static_cast<size_t>(layer_names_.size()), kNaN);
    for (const auto& l : r.layers) {
      const int i = static_cast<int>(layer_names_.indexOf(QString::fromStdString(l.layer)));
      if (i < 0) continue;
      std::optional<double> v = field == "output_sqnr_db" ? l.output_sqnr_db : field == "weight_sqnr_db" ? l.weight_sqnr_db : l.bits;
      if (v) values[static_cast<size_t>(i)] = *v;
    }
    layer_series_ << runLabel(r.summary);
    layer_values_.push_back(values);
    series.push_back({runLabel(r.summary), values});
  }
  layer_plot_->setTitle(tr("%1 per layer").arg(layer_metric_->currentText()));
  layer_plot_->setAxisLabels(QString(), layer_metric_->currentText());
  layer_plot_->setEmptyMessage(tr("none of these runs recorded per-layer results (evaluate runs measure the whole model)"));
  layer_plot_->setData(shortNames(layer_names_), series);
}

void CompareWindow::loadModelRuns(Store& store) {
  std::optional<int64_t> model_id;
  std::set<int64_t> compared;
  for (const auto& r : runs_) {
    compared.insert(r.summary.id);
    if (!model_id && r.summary.model_id) model_id = r.summary.model_id;
  }
  model_runs_.clear();
  if (model_id) {
    const ModelRecord model = store.model(*model_id);
    ListFilter f;
    f.model_id = model_id;
    f.status = RunStatus::Completed;
    for (const auto& s : store.list(f)) {
      ModelRun run{s.id, QString::fromStdString(s.name), compared.count(s.id) > 0, {}};
      for (const auto& m : store.get(s.id).metrics) run.metrics.emplace(m.name, m.value);  // the first of each name
      // An evaluation of the model as stored: at its size on disk.
      if (s.kind == RunKind::Evaluate && !run.metrics.count(metric_names::kSizeBytes)) run.metrics[metric_names::kSizeBytes] = static_cast<double>(model.bytes);
      model_runs_.push_back(std::move(run));
    }
  }
  // The axes list every metric some run recorded: the table's in its order, then the others.
  std::set<std::string> seen;
  for (const auto& r : model_runs_)
    for (const auto& [name, v] : r.metrics) seen.insert(name);
  std::vector<std::string> names;
  for (const auto& m : metric_table())
    if (seen.erase(m.name)) names.push_back(m.name);
  names.insert(names.end(), seen.begin(), seen.end());
  for (QComboBox* c : {pareto_x_, pareto_y_}) {
    const QSignalBlocker block(c);
    c->clear();
    for (const auto& n : names) c->addItem(QString::fromStdString(metric_label(n)), QString::fromStdString(n));
  }
  const int x = pareto_x_->findData(QString::fromLatin1(metric_names::kSizeBytes)), y = pareto_y_->findData(quality_);
  const QSignalBlocker bx(pareto_x_), by(pareto_y_);
  if (x >= 0) pareto_x_->setCurrentIndex(x);
  if (y >= 0) pareto_y_->setCurrentIndex(y);
}

QString CompareWindow::paretoTitle() const {
  return tr("%1 against %2, every run of the model").arg(pareto_y_->currentText(), pareto_x_->currentText());
}

void CompareWindow::fillPareto() {
  const std::string xk = pareto_x_->currentData().toString().toStdString(), yk = pareto_y_->currentData().toString().toStdString();
  const bool x_bytes = xk == metric_names::kSizeBytes;
  pareto_rows_.clear();
  for (const auto& r : model_runs_) {
    const auto x = r.metrics.find(xk), y = r.metrics.find(yk);
    if (x != r.metrics.end() && y != r.metrics.end() && std::isfinite(x->second) && std::isfinite(y->second))
      pareto_rows_.push_back({r.id, r.name, x->second, y->second, r.compared});
  }
  std::vector<ScatterPlot::Point> points;
  for (const auto& r : pareto_rows_) points.push_back({x_bytes ? r.x / kMiB : r.x, r.y, QStringLiteral("#%1 %2").arg(r.id).arg(r.name), r.compared});
  const QString xl = x_bytes ? tr("model size (MiB)") : pareto_x_->currentText(), yl = pareto_y_->currentText();
  // Directions from the metric table; a metric with none is read as lower-is-better.
  const bool y_lower = better_direction(yk) != Better::Higher, x_lower = better_direction(xk) != Better::Higher;
  pareto_->setTitle(paretoTitle());
  pareto_->setAxisLabels(xl, yl);
  pareto_->setEmptyMessage(tr("no run of this model recorded both %1 and %2").arg(xl, yl));
  pareto_->setPoints(points, y_lower, x_lower);
  const QString size_note = xk == metric_names::kSizeBytes || yk == metric_names::kSizeBytes
                                ? tr(" Size: compress runs at their estimated checkpoint size, evaluations of the model as stored at its size on disk.")
                                : QString();
  pareto_note_->setText(tr("%1 runs.%2 The dashed line is the Pareto front: no other run is better on both axes (%3 %4 and %5 %6 are better).")
                            .arg(pareto_rows_.size())
                            .arg(size_note, x_lower ? tr("lower") : tr("higher"), xl, y_lower ? tr("lower") : tr("higher"), yl));
}

namespace {
QTableWidgetItem* numberItem(std::optional<double> v, int precision = 5) {
  auto* item = new QTableWidgetItem();
  if (v && std::isfinite(*v)) item->setData(Qt::DisplayRole, QString::number(*v, 'g', precision).toDouble());  // sorts as a number
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  return item;
}

// A layer's setting in a line ("W4 sym g128 rtn; input: {bits:8,…}"): the weights as the layer
// table says them, the rest of what the run recorded as compact JSON; the rules it came from and
// what the method found are left to the tooltip.
QString settingText(const nlohmann::json& settings) {
  if (!settings.is_object()) return {};
  QStringList parts;
  for (const auto& [key, value] : settings.items()) {
    if (key == "sources" || key == "details" || key == "shape") continue;
    if (key == "weights" && value.is_object()) {
      QString w = QStringLiteral("W%1").arg(value.value("bits", 0));
      if (value.contains("format") && value["format"].is_string()) w = QString::fromStdString(value["format"].get<std::string>());
      if (value.contains("symmetric") && value["symmetric"].is_boolean()) w += value["symmetric"].get<bool>() ? QStringLiteral(" sym") : QStringLiteral(" asym");
      const std::string strategy = value.value("strategy", std::string());
      if (strategy == "group" && value.contains("group_size") && value["group_size"].is_number_integer()) w += QStringLiteral(" g%1").arg(value["group_size"].get<int64_t>());
      else if (!strategy.empty()) w += QLatin1Char(' ') + QString::fromStdString(strategy);
      if (value.contains("method") && value["method"].is_string()) w += QLatin1Char(' ') + QString::fromStdString(value["method"].get<std::string>());
      parts << w;
      continue;
    }
    QString text = QString::fromStdString(value.dump());
    text.remove(QLatin1Char('"'));
    parts << QString::fromStdString(key) + QStringLiteral(": ") + text;
  }
  return parts.join(QStringLiteral("; "));
}
}  // namespace

void CompareWindow::fillLayerTable() {
  const bool several = runs_.size() > 1;
  QStringList headers;
  if (several) headers << tr("Run");
  headers << tr("Layer") << tr("Kind") << tr("Bits") << tr("Weight SQNR (dB)") << tr("Output SQNR (dB)") << tr("Weight rel. MSE") << tr("Output rel. MSE")
          << tr("Params before") << tr("Params after") << tr("Sparsity") << tr("Rank") << tr("Setting");
  layer_table_->setSortingEnabled(false);  // rows are filled in place, then sorted
  layer_table_->clear();
  layer_table_->setColumnCount(static_cast<int>(headers.size()));
  layer_table_->setHorizontalHeaderLabels(headers);
  int rows = 0;
  for (const auto& r : runs_) rows += static_cast<int>(r.layers.size());
  layer_table_->setRowCount(rows);
  int row = 0;
  auto count = [](std::optional<int64_t> v) { return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt; };
  for (const auto& r : runs_)
    for (const auto& l : r.layers) {
      int c = 0;
      if (several) layer_table_->setItem(row, c++, new QTableWidgetItem(runLabel(r.summary)));
      auto* name = new QTableWidgetItem(QString::fromStdString(l.layer));
      name->setToolTip(name->text());
      layer_table_->setItem(row, c++, name);
      layer_table_->setItem(row, c++, new QTableWidgetItem(QString::fromStdString(l.kind)));
      layer_table_->setItem(row, c++, numberItem(l.bits, 4));
      layer_table_->setItem(row, c++, numberItem(l.weight_sqnr_db, 4));
      layer_table_->setItem(row, c++, numberItem(l.output_sqnr_db, 4));
      layer_table_->setItem(row, c++, numberItem(l.weight_rel_mse, 4));
      layer_table_->setItem(row, c++, numberItem(l.output_rel_mse, 4));
      layer_table_->setItem(row, c++, numberItem(count(l.params_before), 15));
      layer_table_->setItem(row, c++, numberItem(count(l.params_after), 15));
      layer_table_->setItem(row, c++, numberItem(l.sparsity, 4));
      layer_table_->setItem(row, c++, numberItem(count(l.rank), 15));
      auto* setting = new QTableWidgetItem(settingText(l.settings));
      setting->setToolTip(QString::fromStdString(l.settings.dump(2)));
      layer_table_->setItem(row, c++, setting);
      ++row;
    }
  layer_table_->resizeColumnsToContents();
  const int name_column = several ? 1 : 0;
  layer_table_->setColumnWidth(name_column, std::min(layer_table_->columnWidth(name_column), 340));
  layer_table_->horizontalHeader()->setStretchLastSection(true);
  layer_table_->setSortingEnabled(true);
  layer_table_->sortByColumn(-1, Qt::AscendingOrder);  // model order until a header is clicked
}

void CompareWindow::fillRuns() {
  const QStringList headers = {tr("Run"), tr("Kind"), tr("Status"), tr("Model"), tr("Device"), tr("Seconds"), tr("Data"), tr("Started"), tr("Quench")};
  runs_table_->setColumnCount(static_cast<int>(headers.size()));
  runs_table_->setHorizontalHeaderLabels(headers);
  runs_table_->setRowCount(static_cast<int>(runs_.size()));
  QString recipes;
  for (int i = 0; i < static_cast<int>(runs_.size()); ++i) {
    const ExperimentDetail& r = runs_[static_cast<size_t>(i)];
    QStringList data;
    for (const auto& d : r.datasets)
      data << (d.dataset.samples ? tr("%1 (%2, %3 samples)").arg(QFileInfo(QString::fromStdString(d.dataset.path)).fileName(), QString::fromStdString(d.role))
                                       .arg(*d.dataset.samples)
                                 : tr("%1 (%2)").arg(QFileInfo(QString::fromStdString(d.dataset.path)).fileName(), QString::fromStdString(d.role)));
    const auto secs = run_seconds(r.summary);
    const QStringList cells = {runLabel(r.summary),
                               QString::fromLatin1(run_kind_name(r.summary.kind)),
                               QString::fromStdString(status_name(r.summary.status)) +
                                   (r.summary.error.empty() ? QString() : QStringLiteral(": ") + QString::fromStdString(r.summary.error)),
                               QString::fromStdString(r.summary.model_path + " (" + r.summary.model_architecture + ")"),
                               QString::fromStdString(r.summary.device),
                               secs ? QString::number(*secs, 'f', 1) : tr("—"),
                               data.join(QStringLiteral(", ")),
                               QString::fromStdString(r.summary.started_at),
                               QString::fromStdString(r.quench_version)};
    for (int c = 0; c < cells.size(); ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      item->setToolTip(cells[c]);
      runs_table_->setItem(i, c, item);
    }
    recipes += QStringLiteral("# %1\n%2\n\n").arg(runLabel(r.summary),
                                                  r.recipe.empty() ? tr("(no recipe: the model as stored)") : QString::fromStdString(r.recipe.dump(2)));
  }
  runs_table_->resizeColumnsToContents();
  runs_table_->setMaximumHeight(runs_table_->horizontalHeader()->height() + runs_table_->rowHeight(0) * (std::min<int>(static_cast<int>(runs_.size()), 6) + 1));
  recipes_->setPlainText(recipes.trimmed());
}

PlotWidget* CompareWindow::currentPlot() const {
  switch (tabs_->currentIndex()) {
    case LayersTab: return layer_plot_;
    case ParetoTab: return pareto_;
  }
  return nullptr;
}

QString CompareWindow::csv(Tab tab) const {
  QStringList lines;
  auto row = [&lines](const QStringList& fields) {
    QStringList q;
    for (const QString& f : fields) q << csvField(f);
    lines << q.join(QLatin1Char(','));
  };
  if (tab == MetricsTab) {
    QStringList header = {QStringLiteral("metric"), QStringLiteral("dataset"), QStringLiteral("split")};
    for (const auto& r : runs_) header << QStringLiteral("#%1").arg(r.summary.id);
    for (size_t i = 1; i < runs_.size(); ++i) header << QStringLiteral("delta #%1").arg(runs_[i].summary.id);
    row(header);
    for (const auto& m : comparison_.metrics) {
      QStringList f = {QString::fromStdString(m.name), QString::fromStdString(m.dataset), QString::fromStdString(m.split)};
      for (const auto& v : m.values) f << (v ? number(*v) : QString());
      for (size_t i = 1; i < runs_.size(); ++i) f << (m.delta(i) ? number(*m.delta(i)) : QString());
      row(f);
    }
  } else if (tab == LayersTab) {
    row(QStringList{QStringLiteral("layer")} + layer_series_);
    for (int i = 0; i < layer_names_.size(); ++i) {
      QStringList f = {layer_names_[i]};
      for (const auto& s : layer_values_) f << number(s[static_cast<size_t>(i)]);
      row(f);
    }
  } else if (tab == LayerTableTab || tab == RunsTab) {
    const QTableWidget* t = tab == LayerTableTab ? layer_table_ : runs_table_;
    QStringList header;
    for (int c = 0; c < t->columnCount(); ++c) header << t->horizontalHeaderItem(c)->text();
    row(header);
    for (int r = 0; r < t->rowCount(); ++r) {
      QStringList f;
      for (int c = 0; c < t->columnCount(); ++c) f << (t->item(r, c) ? t->item(r, c)->text() : QString());
      row(f);
    }
  } else {
    const QString xk = pareto_x_->currentData().toString(), yk = pareto_y_->currentData().toString();
    row({QStringLiteral("experiment_id"), QStringLiteral("name"), xk, yk, QStringLiteral("compared"), QStringLiteral("pareto")});
    std::vector<ScatterPlot::Point> points;
    for (const auto& r : pareto_rows_) points.push_back({r.x, r.y, {}, r.compared});
    const auto front = ScatterPlot::paretoFront(points, better_direction(yk.toStdString()) != Better::Higher,
                                                better_direction(xk.toStdString()) != Better::Higher);
    for (size_t i = 0; i < pareto_rows_.size(); ++i) {
      const auto& r = pareto_rows_[i];
      const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
      row({QString::number(r.id), r.name, number(r.x), number(r.y), r.compared ? QStringLiteral("1") : QStringLiteral("0"),
           on_front ? QStringLiteral("1") : QStringLiteral("0")});
    }
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

void CompareWindow::exportPlot(const QString& path) const {
  PlotWidget* p = currentPlot();
  if (!p) throw Error("the Metrics tab is a table: export it as CSV, or switch to a plot tab (" + path.toStdString() + ")");
  p->exportTo(path);
}

QString CompareWindow::reportHtml() const {
  auto esc = [](const QString& t) { return t.toHtmlEscaped(); };
  auto image = [](const PlotWidget* p) {
    return QStringLiteral("<img alt=\"%1\" src=\"data:image/png;base64,%2\">")
        .arg(p->title().toHtmlEscaped(), QString::fromLatin1(p->pngBytes(QSize(1100, 520)).toBase64()));
  };
  QStringList labels;
  for (const auto& r : runs_) labels << runLabel(r.summary);
  QString h;
  h += QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%1</title><style>"
                      "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
                      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
                      "img{max-width:100%;border:1px solid #eee}pre{background:#f6f6f6;padding:1em;overflow:auto}"
                      ".better{color:#1e823c}.worse{color:#c0392b}</style></head><body>\n")
           .arg(esc(tr("Quench: %1").arg(labels.join(QStringLiteral(", ")))));
  h += QStringLiteral("<h1>%1</h1>\n<p>%2</p>\n")
           .arg(esc(runs_.size() == 1 ? tr("Run %1").arg(labels.front()) : tr("Comparison of %1").arg(labels.join(QStringLiteral(", ")))),
                esc(tr("Written by Quench %1 on %2. %3")
                        .arg(QStringLiteral(QUENCH_VERSION), QDateTime::currentDateTime().toString(Qt::ISODate),
                             findChild<QLabel*>(QStringLiteral("deltaReference"))->text())));
  // The runs.
  h += QStringLiteral("<h2>%1</h2>\n<table><tr>").arg(esc(tr("Runs")));
  for (const QString& c : {tr("Run"), tr("Kind"), tr("Model"), tr("Device"), tr("Seconds"), tr("Data"), tr("Started")})
    h += QStringLiteral("<th>%1</th>").arg(esc(c));
  h += QStringLiteral("</tr>\n");
  for (const auto& r : runs_) {
    QStringList data;
    for (const auto& d : r.datasets)
      data << QStringLiteral("%1 (%2)").arg(QFileInfo(QString::fromStdString(d.dataset.path)).fileName(), QString::fromStdString(d.role));
    const auto secs = run_seconds(r.summary);
    h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td><td>%6</td><td>%7</td></tr>\n")
             .arg(esc(runLabel(r.summary)), esc(QString::fromLatin1(run_kind_name(r.summary.kind))),
                  esc(QString::fromStdString(r.summary.model_path + " (" + r.summary.model_architecture + ")")),
                  esc(QString::fromStdString(r.summary.device)), secs ? QString::number(*secs, 'f', 1) : QStringLiteral("—"),
                  esc(data.join(QStringLiteral(", "))), esc(QString::fromStdString(r.summary.started_at)));
  }
  h += QStringLiteral("</table>\n");
  // The metrics table as the window shows it, deltas coloured as there.
  h += QStringLiteral("<h2>%1</h2>\n<table><tr>").arg(esc(tr("Metrics")));
  for (int c = 0; c < metrics_->columnCount(); ++c) h += QStringLiteral("<th>%1</th>").arg(esc(metrics_->horizontalHeaderItem(c)->text()));
  h += QStringLiteral("</tr>\n");
  for (int r = 0; r < metrics_->rowCount(); ++r) {
    h += QStringLiteral("<tr>");
    for (int c = 0; c < metrics_->columnCount(); ++c) {
      const QTableWidgetItem* item = metrics_->item(r, c);
      const QColor fg = item ? item->foreground().color() : QColor();
      const QString cls = !item || item->foreground().style() == Qt::NoBrush ? QString()
                          : fg == QColor(30, 130, 60)                         ? QStringLiteral(" class=\"better\"")
                          : fg == QColor(192, 57, 43)                         ? QStringLiteral(" class=\"worse\"")
                                                                              : QString();
      h += QStringLiteral("<td%1>%2</td>").arg(cls, item ? esc(item->text()) : QString());
    }
    h += QStringLiteral("</tr>\n");
  }
  h += QStringLiteral("</table>\n");
  // The plots, inline.
  h += QStringLiteral("<h2>%1</h2>\n%2\n").arg(esc(layer_plot_->title()), image(layer_plot_));
  h += QStringLiteral("<h2>%1</h2>\n%2\n<p>%3</p>\n").arg(esc(paretoTitle()), image(pareto_), esc(pareto_note_->text()));
  // The per-layer numbers behind the bars.
  if (!layer_names_.isEmpty()) {
    h += QStringLiteral("<details><summary>%1</summary><table><tr><th>%2</th>").arg(esc(tr("Per-layer numbers (%1)").arg(layer_metric_->currentText())),
                                                                                   esc(tr("Layer")));
    for (const QString& sname : layer_series_) h += QStringLiteral("<th>%1</th>").arg(esc(sname));
    h += QStringLiteral("</tr>\n");
    for (int i = 0; i < layer_names_.size(); ++i) {
      h += QStringLiteral("<tr><td>%1</td>").arg(esc(layer_names_[i]));
      for (const auto& sv : layer_values_) {
        const double v = sv[static_cast<size_t>(i)];
        h += QStringLiteral("<td>%1</td>").arg(std::isnan(v) ? QStringLiteral("—") : QString::number(v, 'g', 5));
      }
      h += QStringLiteral("</tr>\n");
    }
    h += QStringLiteral("</table></details>\n");
  }
  // Every per-layer result, in model order.
  if (layer_table_->rowCount() > 0) {
    h += QStringLiteral("<details><summary>%1</summary><table><tr>").arg(esc(tr("Per-layer results (%1 rows)").arg(layer_table_->rowCount())));
    for (int c = 0; c < layer_table_->columnCount(); ++c) h += QStringLiteral("<th>%1</th>").arg(esc(layer_table_->horizontalHeaderItem(c)->text()));
    h += QStringLiteral("</tr>\n");
    for (const auto& r : runs_)
      for (const auto& l : r.layers) {
        h += QStringLiteral("<tr>");
        if (runs_.size() > 1) h += QStringLiteral("<td>%1</td>").arg(esc(runLabel(r.summary)));
        auto num = [](std::optional<double> v) { return v && std::isfinite(*v) ? QString::number(*v, 'g', 5) : QString(); };
        auto cnt = [](std::optional<int64_t> v) { return v ? QString::number(*v) : QString(); };
        for (const QString& cell : {QString::fromStdString(l.layer), QString::fromStdString(l.kind), num(l.bits), num(l.weight_sqnr_db), num(l.output_sqnr_db),
                                    num(l.weight_rel_mse), num(l.output_rel_mse), cnt(l.params_before), cnt(l.params_after), num(l.sparsity),
                                    cnt(l.rank), settingText(l.settings)})
          h += QStringLiteral("<td>%1</td>").arg(esc(cell));
        h += QStringLiteral("</tr>\n");
      }
    h += QStringLiteral("</table></details>\n");
  }
  // What produced them.
  h += QStringLiteral("<h2>%1</h2>\n").arg(esc(tr("Recipes")));
  for (const auto& r : runs_)
    h += QStringLiteral("<details><summary>%1</summary><pre>%2</pre></details>\n")
             .arg(esc(runLabel(r.summary)), esc(QString::fromStdString(r.recipe.empty() ? std::string("(no recipe: the model as stored)") : r.recipe.dump(2))));
  h += QStringLiteral("</body></html>\n");
  return h;
}

void CompareWindow::exportReport(const QString& path) const { write_file_atomic(path.toStdString(), reportHtml().toStdString()); }

void CompareWindow::exportCsv(const QString& path) const {
  write_file_atomic(path.toStdString(), csv(static_cast<Tab>(tabs_->currentIndex())).toStdString());
}

}  // namespace quench::gui
