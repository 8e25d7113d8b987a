#include "widgets/experiments/sensitivity_heatmap.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QRegularExpression>
#include <QShortcut>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/compress/mixed_precision.h"
#include "core/io/atomic_file.h"
#include "core/store/metrics.h"
#include "core/util/csv.h"
#include "core/util/error.h"
#include "widgets/layers/heat_scale.h"
#include "widgets/util/save_path.h"

namespace quench::gui {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kLayerRole = Qt::UserRole;

// The block a module belongs to ("model.layers.12.mlp.up_proj" → "model.layers.12"), or the name
// itself when it has no number (embeddings, the head).
QString blockOf(const QString& name) {
  static const QRegularExpression block(QStringLiteral("^(.*?\\.\\d+)(\\.|$)"));
  const auto m = block.match(name);
  return m.hasMatch() ? m.captured(1) : name;
}

QString csvField(const QString& s) { return QString::fromStdString(csv_field(s.toStdString())); }

QTableWidgetItem* heatItem(double value, double worst, const QString& tip) {
  auto* item = new QTableWidgetItem(std::isnan(value) ? QString() : std::isinf(value) ? QStringLiteral("∞") : QString::number(value, 'g', 3));
  item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
  item->setToolTip(tip);
  // No damage (or a gain) stays uncoloured; the run's worst cell is full red.
  if (!std::isnan(value) && value > 0 && (worst > 0 || std::isinf(value))) {
    const QColor c = HeatScale::color(std::isinf(value) ? 1.0 : std::min(1.0, value / worst));
    if (c.isValid()) {
      item->setBackground(c);
      item->setForeground(QColor(Qt::black));
    }
  }
  return item;
}
}  // namespace

SensitivityHeatmap::SensitivityHeatmap(const ExperimentDetail& run, QWidget* parent)
    : QWidget(parent, Qt::Window), run_(run), tabs_(new QTabWidget(this)), units_(new QTableWidget(this)), blocks_(new QTableWidget(this)),
      budget_kind_(new QComboBox(this)), budget_(new QDoubleSpinBox(this)), suggestion_(new QLabel(this)) {
  setObjectName(QStringLiteral("sensitivityHeatmap"));
  setAttribute(Qt::WA_DeleteOnClose);
  const std::string label = "sensitivity run #" + std::to_string(run.summary.id);
  QUENCH_CHECK(run.summary.kind == RunKind::Sensitivity, label, " is a ", run_kind_name(run.summary.kind), " run");
  metric_ = run.recipe.is_object() && run.recipe.contains("metric") && run.recipe["metric"].is_string()
                ? QString::fromStdString(run.recipe["metric"].get<std::string>())
                : QString::fromLatin1(metric_names::kPerplexity);
  delta_name_ = metric_ == QLatin1String(metric_names::kPerplexity) ? tr("ΔNLL (nats/token)") : metric_ == QLatin1String(metric_names::kTop1) ? tr("top-1 drop") : tr("KL (nats)");
  // Candidates in the order the run tried them.
  if (run.recipe.contains("candidates") && run.recipe["candidates"].is_array())
    for (const auto& c : run.recipe["candidates"])
      if (c.is_object() && c.contains("name") && c["name"].is_string()) candidates_ << QString::fromStdString(c["name"].get<std::string>());
  for (const LayerResult& r : run.layers) {
    const nlohmann::json& st = r.settings;
    if (!st.is_object() || !st.contains("sensitivity") || !st["sensitivity"].is_object()) continue;
    for (const auto& [name, e] : st["sensitivity"].items())
      if (!candidates_.contains(QString::fromStdString(name))) candidates_ << QString::fromStdString(name);
  }
  for (const LayerResult& r : run.layers) {
    const nlohmann::json& st = r.settings;
    if (!st.is_object() || !st.contains("sensitivity") || !st["sensitivity"].is_object()) continue;
    Unit u;
    u.name = QString::fromStdString(r.layer);
    if (st.contains("layers") && st["layers"].is_array())
      for (const auto& l : st["layers"])
        if (l.is_string()) u.layers << QString::fromStdString(l.get<std::string>());
    if (u.layers.isEmpty()) u.layers << u.name;
    for (const QString& c : candidates_) {
      const nlohmann::json& e = st["sensitivity"].value(c.toStdString(), nlohmann::json());
      // JSON has no infinity: a candidate that wrecked the model (the metric overflowed) is null.
      const bool wrecked = e.is_object() && e.contains("delta") && e["delta"].is_null();
      const bool has = e.is_object() && e.contains("delta") && e["delta"].is_number();
      u.delta.push_back(has ? e["delta"].get<double>() : wrecked ? std::numeric_limits<double>::infinity() : kNaN);
      u.bits.push_back(e.is_object() && e.contains("bits") && e["bits"].is_number() ? e["bits"].get<double>() : kNaN);
      if (has) worst_ = std::max(worst_, u.delta.back());  // finite: an infinite cell is red on its own
    }
    units_data_.push_back(std::move(u));
  }
  QUENCH_CHECK(!units_data_.empty() && !candidates_.isEmpty(), label, " has no per-unit results to show");
  setWindowTitle(tr("Sensitivity #%1 %2 — Quench").arg(run.summary.id).arg(QString::fromStdString(run.summary.name)));

  for (QTableWidget* t : {units_, blocks_}) {
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->setWordWrap(false);
    t->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    t->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 4);
    connect(t, &QTableWidget::cellDoubleClicked, this, [this, t](int row, int column) {
      const QTableWidgetItem* item = t->item(row, column);
      if (item && !item->data(kLayerRole).toString().isEmpty()) Q_EMIT layerActivated(item->data(kLayerRole).toString());
    });
  }
  units_->setObjectName(QStringLiteral("heatmapUnits"));
  blocks_->setObjectName(QStringLiteral("heatmapBlocks"));
  tabs_->addTab(units_, tr("Units × settings"));
  tabs_->addTab(blocks_, tr("Blocks by depth"));
  fillUnits();
  fillBlocks();

  QString base = tr("—");
  for (const auto& m : run.metrics)
    if (m.name == metric_names::float_of(metric_.toStdString())) base = QString::number(m.value, 'g', 5);
  auto* note = new QLabel(tr("%1 when one unit alone is compressed with the setting, everything else in float (the float model's "
                             "%2: %3). Uncoloured: no damage; red: the run's worst cell (%4). Double-click a cell to show its layer.")
                              .arg(delta_name_, metric_, base)
                              .arg(worst_, 0, 'g', 3),
                          this);
  note->setObjectName(QStringLiteral("heatmapNote"));
  note->setWordWrap(true);
  auto* export_csv = new QPushButton(tr("Export Table as CSV…"), this);
  auto* export_png = new QPushButton(tr("Export Image…"), this);
  connect(export_csv, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Table"), suggestedSavePath(QStringLiteral("sensitivity-%1.csv").arg(run_.summary.id)), tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    rememberSavePath(path);
    try {
      write_file_atomic(path.toStdString(), csv(static_cast<Tab>(tabs_->currentIndex())).toStdString());
    } catch (const std::exception& e) {
      QMessageBox::warning(this, tr("Export Table"), QString::fromStdString(e.what()));
    }
  });
  connect(export_png, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Image"), suggestedSavePath(QStringLiteral("sensitivity-%1.png").arg(run_.summary.id)), tr("PNG image (*.png)"));
    rememberSavePath(path);
    if (!path.isEmpty() && !tabs_->currentWidget()->grab().save(path))
      QMessageBox::warning(this, tr("Export Image"), tr("%1 could not be written").arg(path));
  });
  for (const QKeySequence& k : {QKeySequence(Qt::Key_Escape), QKeySequence(QKeySequence::Close)}) {
    auto* sc = new QShortcut(k, this);
    connect(sc, &QShortcut::activated, this, &QWidget::close);
  }
  auto* bottom = new QHBoxLayout();
  bottom->addWidget(note, 1);
  bottom->addWidget(export_csv);
  bottom->addWidget(export_png);
  // The suggestion under a budget.
  budget_kind_->setObjectName(QStringLiteral("budgetKind"));
  budget_kind_->addItem(tr("bits per weight"), QStringLiteral("bits"));
  budget_kind_->addItem(tr("sparsity"), QStringLiteral("sparsity"));
  budget_->setObjectName(QStringLiteral("budget"));
  budget_->setDecimals(3);
  auto set_range = [this] {
    const bool bits = budget_kind_->currentData().toString() == QLatin1String("bits");
    budget_->setRange(bits ? 0.5 : 0.0, bits ? 32.0 : 0.99);
    budget_->setSingleStep(bits ? 0.25 : 0.05);
    budget_->setValue(bits ? 4.5 : 0.5);
  };
  connect(budget_kind_, &QComboBox::currentIndexChanged, this, set_range);
  set_range();
  auto* suggest_button = new QPushButton(tr("Suggest Recipe"), this);
  suggest_button->setObjectName(QStringLiteral("suggestRecipe"));
  suggest_button->setToolTip(tr("One candidate per unit, the least summed damage within the budget (a multiple-choice knapsack "
                                "over the measured numbers); the recipe goes to the recipe editor, undoably"));
  connect(suggest_button, &QPushButton::clicked, this, &SensitivityHeatmap::suggest);
  suggestion_->setObjectName(QStringLiteral("suggestionText"));
  suggestion_->setWordWrap(true);
  try {
    stored_ = read_sensitivity(run_, label);
  } catch (const std::exception& e) {
    suggest_button->setEnabled(false);
    suggestion_->setText(tr("No suggestion: %1").arg(QString::fromStdString(e.what())));
  }
  auto* suggest_row = new QHBoxLayout();
  suggest_row->addWidget(new QLabel(tr("Budget:"), this));
  suggest_row->addWidget(budget_);
  suggest_row->addWidget(budget_kind_);
  suggest_row->addWidget(suggest_button);
  suggest_row->addWidget(suggestion_, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(tabs_, 1);
  layout->addLayout(suggest_row);
  layout->addLayout(bottom);
  resize(1100, 800);
}

void SensitivityHeatmap::fillUnits() {
  units_->setColumnCount(static_cast<int>(candidates_.size()));
  units_->setHorizontalHeaderLabels(candidates_);
  units_->setRowCount(static_cast<int>(units_data_.size()));
  QStringList rows;
  for (int r = 0; r < static_cast<int>(units_data_.size()); ++r) {
    const Unit& u = units_data_[static_cast<size_t>(r)];
    rows << u.name;
    for (int c = 0; c < candidates_.size(); ++c) {
      const double d = u.delta[static_cast<size_t>(c)], bits = u.bits[static_cast<size_t>(c)];
      auto* item = heatItem(d, worst_,
                            tr("%1 with %2: %3 %4 at %5 bits per weight").arg(u.name, candidates_[c], delta_name_).arg(d, 0, 'g', 4).arg(bits, 0, 'g', 4));
      item->setData(kLayerRole, u.layers.front());
      units_->setItem(r, c, item);
    }
  }
  units_->setVerticalHeaderLabels(rows);
}

void SensitivityHeatmap::fillBlocks() {
  // Blocks in the order their first unit comes (model order: depth).
  std::vector<QString> order;
  std::map<QString, std::vector<const Unit*>> members;
  for (const Unit& u : units_data_) {
    const QString b = blockOf(u.layers.front());
    if (!members.count(b)) order.push_back(b);
    members[b].push_back(&u);
  }
  const int n = static_cast<int>(candidates_.size());
  QStringList headers;
  for (const QString& c : candidates_) headers << tr("%1: Σ").arg(c);
  for (const QString& c : candidates_) headers << tr("%1: worst unit").arg(c);
  blocks_->setColumnCount(2 * n);
  blocks_->setHorizontalHeaderLabels(headers);
  blocks_->setRowCount(static_cast<int>(order.size()));
  // Sums are coloured against the largest block sum.
  std::vector<std::vector<double>> sums(order.size(), std::vector<double>(static_cast<size_t>(n), kNaN));
  double worst_sum = 0;
  for (size_t b = 0; b < order.size(); ++b)
    for (int c = 0; c < n; ++c) {
      for (const Unit* u : members[order[b]]) {
        const double d = u->delta[static_cast<size_t>(c)];
        if (!std::isnan(d)) sums[b][static_cast<size_t>(c)] = (std::isnan(sums[b][static_cast<size_t>(c)]) ? 0 : sums[b][static_cast<size_t>(c)]) + d;
      }
      if (std::isfinite(sums[b][static_cast<size_t>(c)])) worst_sum = std::max(worst_sum, sums[b][static_cast<size_t>(c)]);
    }
  QStringList rows;
  for (size_t b = 0; b < order.size(); ++b) {
    rows << order[b];
    for (int c = 0; c < n; ++c) {
      auto* sum = heatItem(sums[b][static_cast<size_t>(c)], worst_sum,
                           tr("%1 with %2: %3 summed over %4 units").arg(order[b], candidates_[c], delta_name_).arg(members[order[b]].size()));
      sum->setData(kLayerRole, members[order[b]].front()->layers.front());
      blocks_->setItem(static_cast<int>(b), c, sum);
      const Unit* top = nullptr;
      for (const Unit* u : members[order[b]])
        if (!std::isnan(u->delta[static_cast<size_t>(c)]) && (!top || u->delta[static_cast<size_t>(c)] > top->delta[static_cast<size_t>(c)])) top = u;
      auto* worst = new QTableWidgetItem(top ? QStringLiteral("%1 (%2)").arg(top->name.mid(order[b].size() + 1)).arg(top->delta[static_cast<size_t>(c)], 0, 'g', 3)
                                             : QString());
      if (top) worst->setData(kLayerRole, top->layers.front());
      blocks_->setItem(static_cast<int>(b), n + c, worst);
    }
  }
  blocks_->setVerticalHeaderLabels(rows);
}

void SensitivityHeatmap::suggest() {
  if (!stored_) return;
  const bool bits = budget_kind_->currentData().toString() == QLatin1String("bits");
  const double value = budget_->value();
  try {
    const MixedPrecision mp = bits ? suggest_mixed_precision(stored_->result, value) : suggest_mixed_precision(stored_->result, 1 - value, BudgetKind::Density);
    std::ostringstream name;
    if (bits) name << "mixed-" << value << "bits";
    else name << "layerwise-sparsity-" << value;
    const nlohmann::json recipe = mp.recipe(stored_->result, stored_->candidates, name.str());
    const QString description = tr("%1 units: %2 bits per weight, sparsity %3, predicted %4 %5")
                                    .arg(stored_->result.units.size())
                                    .arg(mp.average_bits, 0, 'f', 3)
                                    .arg(1 - mp.average_density, 0, 'f', 3)
                                    .arg(delta_name_)
                                    .arg(mp.predicted_delta, 0, 'g', 4);
    suggestion_->setStyleSheet(QString());
    suggestion_->setText(tr("Suggested (in the recipe editor): %1").arg(description));
    Q_EMIT recipeSuggested(recipe, description);
  } catch (const std::exception& e) {
    suggestion_->setStyleSheet(QStringLiteral("color: #c0392b"));
    suggestion_->setText(QString::fromStdString(e.what()));
  }
}

QString SensitivityHeatmap::csv(Tab tab) const {
  const QTableWidget* t = tab == UnitsTab ? units_ : blocks_;
  QStringList lines;
  QStringList header = {tab == UnitsTab ? QStringLiteral("unit") : QStringLiteral("block")};
  for (int c = 0; c < t->columnCount(); ++c) header << csvField(t->horizontalHeaderItem(c)->text());
  lines << header.join(QLatin1Char(','));
  for (int r = 0; r < t->rowCount(); ++r) {
    QStringList f = {csvField(t->verticalHeaderItem(r)->text())};
    for (int c = 0; c < t->columnCount(); ++c) {
      // The units' numbers at full precision (the cells show three digits).
      if (tab == UnitsTab) {
        const double d = units_data_[static_cast<size_t>(r)].delta[static_cast<size_t>(c)];
        f << (std::isnan(d) ? QString() : std::isinf(d) ? QStringLiteral("inf") : QString::number(d, 'g', 10));
      } else {
        f << csvField(t->item(r, c) ? t->item(r, c)->text() : QString());
      }
    }
    lines << f.join(QLatin1Char(','));
  }
  return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

}  // namespace quench::gui
