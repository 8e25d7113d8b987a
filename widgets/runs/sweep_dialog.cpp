#include "widgets/runs/sweep_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDateTime>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>
#include <QVBoxLayout>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "core/io/atomic_file.h"
#include "core/sweep/sweep.h"
#include "core/sweep/sweep_dir.h"
#include "core/sweep/sweep_tasks.h"
#include "core/util/error.h"
#include "widgets/util/form_fields.h"

namespace quench::gui {

namespace {
constexpr int kPollMs = 1000;

QLineEdit* line(QWidget* parent, const char* name, const QString& text, const QString& tip) {
  auto* e = new QLineEdit(text, parent);
  e->setObjectName(QString::fromLatin1(name));
  e->setToolTip(tip);
  return e;
}

std::vector<std::string> split_list(const QString& text) {
  std::vector<std::string> out;
  for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!part.trimmed().isEmpty()) out.push_back(part.trimmed().toStdString());
  return out;
}

std::vector<int> split_ints(const QString& text, const QString& field) {
  std::vector<int> out;
  for (const auto& s : split_list(text)) {
    bool ok = false;
    const int v = QString::fromStdString(s).toInt(&ok);
    QUENCH_CHECK(ok && v >= 0, field.toStdString(), ": '", s, "' is not a whole number");
    out.push_back(v);
  }
  return out;
}

QColor state_color(TaskState s) {
  switch (s) {
    case TaskState::Completed: return QColor(0x2e, 0x7d, 0x32);
    case TaskState::Failed:
    case TaskState::Lost: return QColor(0xc6, 0x28, 0x28);
    case TaskState::Running: return QColor(0x15, 0x65, 0xc0);
    default: return QColor(0x61, 0x61, 0x61);
  }
}
}  // namespace

QString findQuenchCli() {
  const QString env = qEnvironmentVariable("QUENCH_CLI");
  if (!env.isEmpty()) return QFileInfo(env).isExecutable() ? QFileInfo(env).absoluteFilePath() : QString();
  const QString app = QCoreApplication::applicationDirPath();
  // Installed side by side (bin/), or the build tree (app/gui/ beside app/cli/).
  for (const QString& c : {app + QStringLiteral("/quench-cli"), app + QStringLiteral("/../cli/quench-cli")})
    if (QFileInfo(c).isExecutable()) return QFileInfo(c).canonicalFilePath();
  return QStandardPaths::findExecutable(QStringLiteral("quench-cli"));
}

SweepDialog::SweepDialog(const RunSettings& settings, const QString& model_name, const nlohmann::json& editor_recipe, QString cli,
                         QWidget* parent)
    : QDialog(parent), base_(settings), cli_(std::move(cli)), editor_recipe_(editor_recipe), process_(new QProcess(this)),
      timer_(new QTimer(this)) {
  setObjectName(QStringLiteral("sweepDialog"));
  setWindowTitle(tr("Sweep"));
  auto* form_widget = new QWidget(this);
  auto* form_layout = new QVBoxLayout(form_widget);

  auto* top = new QFormLayout();
  name_ = line(this, "sweepName", model_name + QStringLiteral("-sweep"), tr("Experiments are named <sweep>/<recipe>"));
  top->addRow(tr("Sweep name"), name_);
  const QString data = QFileInfo(settings.database).absolutePath();
  folder_ = line(this, "sweepFolder",
                 data + QStringLiteral("/sweeps/") + model_name + QDateTime::currentDateTime().toString(QStringLiteral("-yyyyMMdd-HHmmss")),
                 tr("Where the tasks' databases and logs go; for Slurm, a folder every node sees. An existing sweep's folder "
                    "continues that sweep"));
  top->addRow(tr("Sweep folder"), pathField(folder_, true)->parentWidget());
  form_layout->addLayout(top);

  auto* recipes = new QGroupBox(tr("Recipes"), this);
  auto* rform = new QFormLayout(recipes);
  use_editor_ = new QCheckBox(editor_recipe_.is_null() ? tr("The recipe in the editor (it has an error)")
                                                       : tr("The recipe in the editor (%1)")
                                                             .arg(QString::fromStdString(editor_recipe_.value("name", std::string("unnamed")))),
                              this);
  use_editor_->setObjectName(QStringLiteral("useEditorRecipe"));
  use_editor_->setEnabled(!editor_recipe_.is_null());
  use_editor_->setChecked(!editor_recipe_.is_null());
  rform->addRow(use_editor_);
  schemes_ = line(this, "schemes", QStringLiteral("W8A16, W4A16-G128"), tr("Scheme names, comma-separated: each is one job"));
  rform->addRow(tr("Schemes"), schemes_);
  grid_bits_ = line(this, "gridBits", QString(), tr("Weight bit widths, e.g. 3, 4, 8 (empty: no grid)"));
  grid_bits_->setPlaceholderText(tr("e.g. 3, 4 (empty: no grid)"));
  rform->addRow(tr("Grid: bits"), grid_bits_);
  grid_groups_ = line(this, "gridGroups", QStringLiteral("128"), tr("Group sizes, e.g. 32, 128; 0 is one scale per output channel"));
  rform->addRow(tr("Grid: group sizes"), grid_groups_);
  auto* methods = new QHBoxLayout();
  grid_rtn_ = new QCheckBox(QStringLiteral("RTN"), this);
  grid_rtn_->setObjectName(QStringLiteral("gridRtn"));
  grid_rtn_->setChecked(true);
  grid_gptq_ = new QCheckBox(QStringLiteral("GPTQ"), this);
  grid_gptq_->setObjectName(QStringLiteral("gridGptq"));
  grid_awq_ = new QCheckBox(QStringLiteral("AWQ"), this);
  grid_awq_->setObjectName(QStringLiteral("gridAwq"));
  for (auto* c : {grid_rtn_, grid_gptq_, grid_awq_}) methods->addWidget(c);
  methods->addStretch();
  rform->addRow(tr("Grid: methods"), methods);
  form_layout->addWidget(recipes);

  sensitivity_ = new QGroupBox(tr("Sensitivity of all layers"), this);
  sensitivity_->setObjectName(QStringLiteral("sweepSensitivity"));
  sensitivity_->setCheckable(true);
  sensitivity_->setChecked(false);
  auto* sform = new QFormLayout(sensitivity_);
  const std::vector<std::string> first = split_list(settings.candidates);
  sens_setting_ = line(this, "sensitivitySetting", first.empty() ? QStringLiteral("W4A16-G128") : QString::fromStdString(first.front()),
                       tr("The setting tried on each layer, one at a time"));
  sform->addRow(tr("Setting"), sens_setting_);
  sens_chunks_ = spinBox(this, "sensitivityChunks", 1, 4096, 4, tr("Tasks the layers are split into; merged into one run when collected"));
  sform->addRow(tr("Chunks"), sens_chunks_);
  sens_budget_ = new QDoubleSpinBox(this);
  sens_budget_->setObjectName(QStringLiteral("sensitivityBudget"));
  sens_budget_->setRange(0, 32);
  sens_budget_->setDecimals(2);
  sens_budget_->setSpecialValueText(tr("none"));
  sens_budget_->setToolTip(tr("Average bits per weight for a mixed-precision suggestion (the setting's weights at 3, 4 and 8 bits)"));
  sform->addRow(tr("Bits budget"), sens_budget_);
  form_layout->addWidget(sensitivity_);

  auto* data_box = new QGroupBox(tr("Data"), this);
  auto* dform = new QFormLayout(data_box);
  calibration_ = line(this, "calibration", settings.calibration, tr("Text every recipe calibrates on"));
  dform->addRow(tr("Calibration"), pathField(calibration_, false)->parentWidget());
  calib_samples_ = spinBox(this, "calibSamples", 1, 4096, settings.calib_samples, tr("Calibration windows"));
  seq_ = spinBox(this, "seq", 8, 8192, settings.seq, tr("Tokens per calibration window"));
  dform->addRow(tr("Calibration samples"), windowsRow(this, calib_samples_, seq_, tr("tokens")));
  evaluation_ = line(this, "evaluation", settings.evaluation, tr("Held-out text the perplexity is measured on"));
  dform->addRow(tr("Evaluation"), pathField(evaluation_, false)->parentWidget());
  ctx_ = spinBox(this, "ctx", 8, 8192, settings.ctx, tr("Tokens per window"));
  eval_windows_ = spinBox(this, "evalWindows", 1, 100000, std::max(1, settings.eval_windows), tr("Windows scored"));
  dform->addRow(tr("Evaluation windows"), windowsRow(this, eval_windows_, ctx_, tr("tokens")));
  form_layout->addWidget(data_box);

  auto* where_box = new QGroupBox(tr("Where"), this);
  auto* wform = new QFormLayout(where_box);
  where_ = new QComboBox(this);
  where_->setObjectName(QStringLiteral("sweepWhere"));
  where_->addItem(tr("This machine, one task after another"), QStringLiteral("local"));
  where_->addItem(tr("Slurm: one job array (sbatch)"), QStringLiteral("slurm"));
  wform->addRow(tr("Run on"), where_);
  slurm_box_ = new QWidget(this);
  auto* slform = new QFormLayout(slurm_box_);
  slform->setContentsMargins(0, 0, 0, 0);
  partition_ = line(this, "slurmPartition", QString(), tr("sbatch --partition (empty: the cluster's default)"));
  gres_ = line(this, "slurmGres", base_.device.startsWith(QStringLiteral("cuda")) ? QStringLiteral("gpu:1") : QString(),
               tr("sbatch --gres, e.g. gpu:1 for one GPU per task"));
  time_limit_ = line(this, "slurmTime", QStringLiteral("2:00:00"), tr("sbatch --time per task"));
  setup_ = new QPlainTextEdit(this);
  setup_->setObjectName(QStringLiteral("slurmSetup"));
  setup_->setPlaceholderText(tr("shell lines each task runs first, e.g.\nmodule load cuda/13"));
  setup_->setMaximumHeight(60);
  slform->addRow(tr("Partition"), partition_);
  slform->addRow(tr("GPUs (--gres)"), gres_);
  slform->addRow(tr("Time limit"), time_limit_);
  slform->addRow(tr("Setup"), setup_);
  wform->addRow(slurm_box_);
  auto sync_where = [this] { slurm_box_->setVisible(where_->currentData().toString() == QStringLiteral("slurm")); };
  connect(where_, &QComboBox::currentIndexChanged, this, sync_where);
  sync_where();
  form_layout->addWidget(where_box);
  auto* info = new QLabel(tr("Model %1 · device %2 · store %3").arg(settings.model_dir, settings.device, settings.database), this);
  info->setWordWrap(true);
  info->setStyleSheet(QStringLiteral("color: gray;"));
  form_layout->addWidget(info);
  form_layout->addStretch();

  auto* scroll = new QScrollArea(this);
  scroll->setWidget(form_widget);
  scroll->setWidgetResizable(true);
  scroll->setMinimumWidth(form_widget->sizeHint().width() + 24);

  auto* right = new QWidget(this);
  auto* rlayout = new QVBoxLayout(right);
  rlayout->setContentsMargins(0, 0, 0, 0);
  tasks_ = new QTableWidget(0, 4, this);
  tasks_->setObjectName(QStringLiteral("sweepTasks"));
  tasks_->setHorizontalHeaderLabels({tr("Task"), tr("Experiment"), tr("State"), tr("Where / detail")});
  tasks_->verticalHeader()->hide();
  tasks_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  tasks_->setSelectionBehavior(QAbstractItemView::SelectRows);
  tasks_->setSelectionMode(QAbstractItemView::SingleSelection);
  for (int c : {0, 1, 2}) tasks_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
  tasks_->horizontalHeader()->setStretchLastSection(true);
  connect(tasks_, &QTableWidget::itemSelectionChanged, this, &SweepDialog::showTaskLog);
  output_ = new QPlainTextEdit(this);
  output_->setObjectName(QStringLiteral("sweepOutput"));
  output_->setReadOnly(true);
  output_->setLineWrapMode(QPlainTextEdit::NoWrap);
  output_->setPlaceholderText(tr("Plan shows the tasks; Start runs them. Select a task to see its log."));
  auto* vsplit = new QSplitter(Qt::Vertical, this);
  vsplit->addWidget(tasks_);
  vsplit->addWidget(output_);
  vsplit->setStretchFactor(0, 3);
  vsplit->setStretchFactor(1, 2);
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("sweepStatus"));
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  rlayout->addWidget(vsplit, 1);
  rlayout->addWidget(status_);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(scroll);
  split->addWidget(right);
  split->setStretchFactor(1, 1);

  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  open_button_ = buttons->addButton(tr("Open Sweep…"), QDialogButtonBox::ActionRole);
  open_button_->setObjectName(QStringLiteral("sweepOpen"));
  open_button_->setToolTip(tr("Follow a sweep started earlier (its folder): its tasks' states, logs and results"));
  connect(open_button_, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getExistingDirectory(this, tr("A sweep folder"), QFileInfo(sweepFolder()).absolutePath());
    if (!f.isEmpty()) follow(f);
  });
  plan_button_ = buttons->addButton(tr("Plan"), QDialogButtonBox::ActionRole);
  plan_button_->setObjectName(QStringLiteral("sweepPlan"));
  resubmit_button_ = buttons->addButton(tr("Run Failed Again"), QDialogButtonBox::ActionRole);
  resubmit_button_->setObjectName(QStringLiteral("sweepResubmit"));
  resubmit_button_->setEnabled(false);
  start_button_ = buttons->addButton(tr("Start"), QDialogButtonBox::AcceptRole);
  start_button_->setObjectName(QStringLiteral("sweepStart"));
  start_button_->setDefault(true);
  connect(plan_button_, &QPushButton::clicked, this, &SweepDialog::showPlan);
  connect(start_button_, &QPushButton::clicked, this, &SweepDialog::start);
  connect(resubmit_button_, &QPushButton::clicked, this, &SweepDialog::resubmitFailed);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

  auto* layout = new QVBoxLayout(this);
  layout->addWidget(split, 1);
  layout->addWidget(buttons);
  resize(1180, 720);

  process_->setProcessChannelMode(QProcess::MergedChannels);
  connect(process_, &QProcess::readyRead, this, [this] {
    output_->moveCursor(QTextCursor::End);
    output_->insertPlainText(QString::fromUtf8(process_->readAll()));
    output_->moveCursor(QTextCursor::End);
  });
  connect(process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus) {
    start_button_->setEnabled(true);
    // A task that failed is shown by its row; anything else (a refused description, sbatch missing)
    // is named by the runner's last line.
    const QStringList lines = output_->toPlainText().split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    const QString last = lines.isEmpty() ? QString() : lines.last();
    if (code != 0 && !last.contains(QStringLiteral("failed"))) setError(tr("quench-cli sweep run stopped (exit %1): %2").arg(code).arg(last));
    if (!dir_ || !dir_->exists()) {
      timer_->stop();
      Q_EMIT finishedAll();
      return;
    }
    const QString error = error_;
    refresh();
    if (!error.isEmpty()) setError(error + QStringLiteral("\n") + status_->text());
  });
  connect(process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e != QProcess::FailedToStart) return;
    setError(tr("cannot start %1: %2").arg(cli_, process_->errorString()));
    timer_->stop();
    start_button_->setEnabled(true);
    Q_EMIT finishedAll();
  });
  // The runner and the jobs it starts form a process group of their own, so that closing the
  // dialog can stop all of them.
  process_->setChildProcessModifier([] { ::setpgid(0, 0); });
  timer_->setInterval(kPollMs);
  connect(timer_, &QTimer::timeout, this, &SweepDialog::refresh);
  if (cli_.isEmpty()) setError(tr("quench-cli was not found beside this program or on PATH (set QUENCH_CLI to its path)"));
}

SweepDialog::~SweepDialog() {
  // A local sweep stops with the dialog: its task gets SIGTERM and ends as failed, and the next
  // Start in the same folder runs it again. Slurm tasks go on regardless (Open Sweep… follows them).
  timer_->stop();
  process_->disconnect(this);
  if (process_->state() != QProcess::NotRunning) {
    const qint64 group = process_->processId();
    if (group > 0) ::kill(static_cast<pid_t>(-group), SIGTERM);
    if (!process_->waitForFinished(10000) && group > 0) ::kill(static_cast<pid_t>(-group), SIGKILL);
    process_->waitForFinished(2000);
  }
}

QLineEdit* SweepDialog::pathField(QLineEdit* edit, bool folder) {
  auto* browse = new QPushButton(tr("Browse…"), this);
  connect(browse, &QPushButton::clicked, this, [this, edit, folder] {
    const QString f = folder ? QFileDialog::getExistingDirectory(this, tr("Sweep folder"), edit->text())
                             : QFileDialog::getOpenFileName(this, tr("Choose a text file"), edit->text(), tr("Text (*.txt *.jsonl);;All files (*)"));
    if (!f.isEmpty()) edit->setText(f);
  });
  withBrowse(this, edit, browse);
  return edit;
}

QString SweepDialog::sweepFolder() const { return QDir::cleanPath(QDir(folder_->text().trimmed()).absolutePath()); }

nlohmann::json SweepDialog::description(const QString& editor_recipe_file) const {
  const std::string name = name_->text().trimmed().toStdString();
  QUENCH_CHECK(!name.empty(), "Sweep name: give the sweep a name");
  nlohmann::json j = {{"name", name}, {"model", base_.model_dir.toStdString()}, {"device", base_.device.toStdString()}};
  const QString calib = calibration_->text().trimmed(), eval = evaluation_->text().trimmed();
  QUENCH_CHECK(!eval.isEmpty(), "Evaluation: choose the text the perplexity is measured on");
  if (!calib.isEmpty()) {
    j["calib"] = QFileInfo(calib).absoluteFilePath().toStdString();
    j["samples"] = calib_samples_->value();
    j["seq"] = seq_->value();
  }
  j["eval"] = QFileInfo(eval).absoluteFilePath().toStdString();
  j["ctx"] = ctx_->value();
  j["max_windows"] = eval_windows_->value();
  nlohmann::json recipes = nlohmann::json::array();
  if (use_editor_->isChecked() && !editor_recipe_file.isEmpty()) recipes.push_back(editor_recipe_file.toStdString());
  for (const auto& s : split_list(schemes_->text())) recipes.push_back(s);
  if (!recipes.empty()) j["recipes"] = recipes;
  const auto bits = split_ints(grid_bits_->text(), tr("Grid: bits"));
  if (!bits.empty()) {
    auto groups = split_ints(grid_groups_->text(), tr("Grid: group sizes"));
    nlohmann::json methods = nlohmann::json::array();
    if (grid_rtn_->isChecked()) methods.push_back("rtn");
    if (grid_gptq_->isChecked()) methods.push_back("gptq");
    if (grid_awq_->isChecked()) methods.push_back("awq");
    QUENCH_CHECK(!methods.empty(), "Grid: methods: tick at least one");
    j["grid"] = {{"bits", bits}, {"group_size", groups.empty() ? std::vector<int>{128} : groups}, {"method", methods}};
  }
  if (sensitivity_->isChecked()) {
    const std::string setting = sens_setting_->text().trimmed().toStdString();
    QUENCH_CHECK(!setting.empty(), "Sensitivity: Setting: give the setting to try on each layer");
    j["sensitivity"] = {{"setting", setting}, {"chunks", sens_chunks_->value()}};
    if (sens_budget_->value() > 0) j["sensitivity"]["budget"] = sens_budget_->value();
  }
  QUENCH_CHECK(j.contains("recipes") || j.contains("grid") || j.contains("sensitivity"),
               "nothing to run: choose recipes, a grid or the sensitivity analysis");
  if (where_->currentData().toString() == QStringLiteral("slurm")) {
    std::vector<std::string> setup;
    for (const QString& l : setup_->toPlainText().split(QLatin1Char('\n'), Qt::SkipEmptyParts))
      if (!l.trimmed().isEmpty()) setup.push_back(l.toStdString());
    if (!setup.empty()) j["setup"] = setup;
  }
  return j;
}

void SweepDialog::loadDescription(const nlohmann::json& j) {
  auto text = [&](const char* key) { return QString::fromStdString(j.value(key, std::string())); };
  auto join = [](const nlohmann::json& a) {
    QStringList out;
    for (const auto& x : a) out << (x.is_string() ? QString::fromStdString(x.get<std::string>()) : QString::number(x.get<double>()));
    return out.join(QStringLiteral(", "));
  };
  if (j.contains("name")) name_->setText(text("name"));
  if (j.contains("calib")) calibration_->setText(text("calib"));
  if (j.contains("eval")) evaluation_->setText(text("eval"));
  if (j.contains("samples")) calib_samples_->setValue(j["samples"].get<int>());
  if (j.contains("seq")) seq_->setValue(j["seq"].get<int>());
  if (j.contains("ctx")) ctx_->setValue(j["ctx"].get<int>());
  if (j.contains("max_windows")) eval_windows_->setValue(j["max_windows"].get<int>());
  // Scheme names go to the schemes field; recipe files (the editor's, written by this dialog) do not.
  QStringList schemes;
  for (const auto& r : j.value("recipes", nlohmann::json::array()))
    if (r.is_string() && r.get<std::string>().find('/') == std::string::npos && r.get<std::string>().find(".json") == std::string::npos)
      schemes << QString::fromStdString(r.get<std::string>());
  schemes_->setText(schemes.join(QStringLiteral(", ")));
  const auto grid = j.value("grid", nlohmann::json::object());
  grid_bits_->setText(join(grid.value("bits", nlohmann::json::array())));
  if (grid.contains("group_size")) grid_groups_->setText(join(grid["group_size"]));
  if (grid.contains("method")) {
    const auto m = grid["method"];
    auto has = [&](const char* x) { return std::find(m.begin(), m.end(), x) != m.end(); };
    grid_rtn_->setChecked(has("rtn"));
    grid_gptq_->setChecked(has("gptq"));
    grid_awq_->setChecked(has("awq"));
  }
  sensitivity_->setChecked(j.contains("sensitivity"));
  if (j.contains("sensitivity")) {
    const auto& sj = j["sensitivity"];
    if (sj.contains("setting") && sj["setting"].is_string()) sens_setting_->setText(QString::fromStdString(sj["setting"].get<std::string>()));
    sens_chunks_->setValue(sj.value("chunks", 1));
    sens_budget_->setValue(sj.value("budget", 0.0));
  }
  if (j.contains("setup")) setup_->setPlainText(QString::fromStdString([&] {
    std::string all;
    for (const auto& l : j["setup"]) all += l.get<std::string>() + "\n";
    return all;
  }()));
}

void SweepDialog::follow(const QString& folder) {
  folder_->setText(folder);
  auto d = std::make_unique<SweepDir>(sweepFolder().toStdString());
  if (!d->exists()) {
    setError(tr("%1 holds no sweep (no sweep.json)").arg(sweepFolder()));
    return;
  }
  try {
    std::ifstream in(d->path() + "/description.json");
    if (in) loadDescription(nlohmann::json::parse(in));
    // Slurm when any submission went there: resubmitting goes the same way.
    for (const auto& sub : d->submissions())
      if (sub.value("scheduler", "") == "slurm") where_->setCurrentIndex(where_->findData(QStringLiteral("slurm")));
  } catch (const std::exception& e) {
    setError(QString::fromUtf8(e.what()));
  }
  dir_ = std::move(d);
  all_done_ = false;
  timer_->start();
  refresh();
}

QStringList SweepDialog::schedulerArgs() const {
  QStringList args = {QStringLiteral("--db"), base_.database};
  if (where_->currentData().toString() != QStringLiteral("slurm")) return args << QStringLiteral("--local") << QStringLiteral("--no-collect");
  args << QStringLiteral("--slurm");
  if (!partition_->text().trimmed().isEmpty()) args << QStringLiteral("--partition") << partition_->text().trimmed();
  if (!gres_->text().trimmed().isEmpty()) args << QStringLiteral("--gres") << gres_->text().trimmed();
  if (!time_limit_->text().trimmed().isEmpty()) args << QStringLiteral("--time") << time_limit_->text().trimmed();
  return args;
}

void SweepDialog::setError(const QString& message) {
  error_ = message;
  status_->setStyleSheet(QStringLiteral("color: #c62828;"));
  status_->setText(message);
}

void SweepDialog::showPlan() {
  try {
    QTemporaryDir tmp;
    QString editor_file;
    if (use_editor_->isChecked() && !editor_recipe_.is_null()) {
      editor_file = tmp.filePath(QStringLiteral("editor-recipe.json"));
      write_file_atomic(editor_file.toStdString(), editor_recipe_.dump(2) + "\n");
    }
    const QString desc = tmp.filePath(QStringLiteral("sweep.json"));
    write_file_atomic(desc.toStdString(), description(editor_file).dump(2) + "\n");
    const SweepPlan plan = plan_sweep(desc.toStdString(), (sweepFolder() + QStringLiteral("/recipes")).toStdString());
    tasks_->setRowCount(static_cast<int>(plan.jobs.size()));
    for (const auto& job : plan.jobs) {
      const int r = job.index;
      tasks_->setItem(r, 0, new QTableWidgetItem(QString::number(job.index)));
      tasks_->setItem(r, 1, new QTableWidgetItem(QString::fromStdString(job.name)));
      tasks_->setItem(r, 2, new QTableWidgetItem(tr("planned")));
      tasks_->setItem(r, 3, new QTableWidgetItem(QString::fromLatin1(run_kind_name(job.kind))));
    }
    status_->setStyleSheet(QString());
    status_->setText(tr("%n task(s); Start runs them", nullptr, static_cast<int>(plan.jobs.size())));
  } catch (const Error& e) {
    setError(QString::fromUtf8(e.what()));
  }
}

void SweepDialog::start() {
  if (cli_.isEmpty()) {
    setError(tr("quench-cli was not found beside this program or on PATH (set QUENCH_CLI to its path)"));
    return;
  }
  if (process_->state() != QProcess::NotRunning) return;
  const QString folder = sweepFolder();
  QStringList args = {QStringLiteral("sweep"), QStringLiteral("run")};
  if (SweepDir(folder.toStdString()).exists()) {
    // An existing sweep continues as it was planned; its files are never overwritten from the form.
    dir_ = std::make_unique<SweepDir>(folder.toStdString());
    runCli(args << QStringLiteral("--dir") << folder << schedulerArgs());
    output_->appendPlainText(tr("(continuing the sweep in %1 as it was planned; the form is not used: choose a new folder for a new sweep)").arg(folder));
    return;
  }
  try {
    QUENCH_CHECK(QDir().mkpath(folder), folder.toStdString(), ": cannot create the sweep folder");
    QString editor_file;
    if (use_editor_->isChecked() && !editor_recipe_.is_null()) {
      editor_file = folder + QStringLiteral("/editor-recipe.json");
      write_file_atomic(editor_file.toStdString(), editor_recipe_.dump(2) + "\n");
    }
    const QString desc = folder + QStringLiteral("/description.json");
    write_file_atomic(desc.toStdString(), description(editor_file).dump(2) + "\n");
    args << desc;
  } catch (const Error& e) {
    setError(QString::fromUtf8(e.what()));
    return;
  }
  args << QStringLiteral("--dir") << folder << schedulerArgs();
  dir_ = std::make_unique<SweepDir>(folder.toStdString());
  runCli(args);
}

void SweepDialog::resubmitFailed() {
  if (!dir_ || process_->state() != QProcess::NotRunning) return;
  runCli(QStringList{QStringLiteral("sweep"), QStringLiteral("run"), QStringLiteral("--dir"), QString::fromStdString(dir_->path())}
         << schedulerArgs());
}

void SweepDialog::runCli(const QStringList& args) {
  all_done_ = false;
  error_.clear();
  status_->setStyleSheet(QString());
  status_->setText(tr("starting…"));
  output_->appendPlainText(QStringLiteral("$ quench-cli ") + args.join(QLatin1Char(' ')));
  start_button_->setEnabled(false);
  resubmit_button_->setEnabled(false);
  process_->start(cli_, args);
  timer_->start();
}

void SweepDialog::refresh() {
  if (!dir_ || !dir_->exists()) {
    if (process_->state() == QProcess::NotRunning) timer_->stop();
    return;
  }
  std::vector<TaskStatus> st;
  SweepPlan plan;
  try {
    plan = dir_->plan();
    st = sweep_status(*dir_);
  } catch (const std::exception& e) {
    // A damaged sweep folder does not mend itself: say so once and stop polling.
    setError(QString::fromUtf8(e.what()));
    timer_->stop();
    return;
  }
  statuses_ = st;
  // Rebuilding rows must not count as the user picking a task (which shows its log).
  const QSignalBlocker quiet(tasks_);
  const int selected = tasks_->currentRow();
  tasks_->setRowCount(static_cast<int>(st.size()));
  std::map<TaskState, int> counts;
  std::set<int> completed;
  for (const auto& s : st) {
    ++counts[s.state];
    if (s.state == TaskState::Completed) completed.insert(s.index);
    QString where = QString::fromStdString(s.job.empty() ? s.scheduler : "slurm " + s.job);
    QString detail = QString::fromStdString(s.detail);
    if (s.outcome && !s.outcome->ok())
      detail = s.outcome->signal ? tr("signal %1").arg(s.outcome->signal) : tr("exit %1").arg(s.outcome->exit_code);
    auto* state = new QTableWidgetItem(QString::fromLatin1(task_state_name(s.state)));
    state->setForeground(state_color(s.state));
    tasks_->setItem(s.index, 0, new QTableWidgetItem(QString::number(s.index)));
    tasks_->setItem(s.index, 1, new QTableWidgetItem(QString::fromStdString(plan.jobs[s.index].name)));
    tasks_->setItem(s.index, 2, state);
    tasks_->setItem(s.index, 3, new QTableWidgetItem(detail.isEmpty() ? where : where + QStringLiteral(" · ") + detail));
  }
  if (selected >= 0 && selected < tasks_->rowCount()) tasks_->selectRow(selected);

  QString collect_error;
  if (completed != completed_seen_) {
    completed_seen_ = completed;  // tried once per change, so a failing import is not retried every second
    try {
      const CollectReport r = collect_sweep(*dir_, base_.database.toStdString(), st);
      collected_ += r.imported;
      if (r.imported > 0) Q_EMIT collected(r.imported);
    } catch (const std::exception& e) {
      collect_error = QString::fromUtf8(e.what());
    }
  }
  QStringList parts;
  for (const auto& [state, n] : counts)
    if (n > 0) parts << QStringLiteral("%1 %2").arg(n).arg(QString::fromLatin1(task_state_name(state)));
  QString text = parts.join(QStringLiteral(", ")) + tr(" · %n experiment(s) collected into the store", nullptr, collected_);
  if (!collect_error.isEmpty()) {
    setError(text + QStringLiteral("\n") + collect_error);
  } else {
    status_->setStyleSheet(QString());
    status_->setText(text);
  }
  const bool runner_done = process_->state() == QProcess::NotRunning;
  resubmit_button_->setEnabled(runner_done && counts[TaskState::Failed] + counts[TaskState::Lost] > 0);
  // Unknown (squeue unreachable) keeps polling: the tasks may still run.
  const bool active = counts[TaskState::Queued] + counts[TaskState::Running] + counts[TaskState::Unknown] > 0;
  if (runner_done && !active) {
    timer_->stop();
    if (!all_done_) {
      all_done_ = true;
      Q_EMIT finishedAll();
    }
  }
}

void SweepDialog::showTaskLog() {
  if (!dir_ || !dir_->exists()) return;
  const int row = tasks_->currentRow();
  if (row < 0) return;
  if (row >= static_cast<int>(statuses_.size())) return;
  const std::string& file = statuses_[row].log;
  const std::string log = tail_lines(file, 60);
  output_->setPlainText(QStringLiteral("%1\n%2").arg(QString::fromStdString(file), log.empty() ? tr("(no log yet)") : QString::fromStdString(log)));
}

}  // namespace quench::gui
