#include "widgets/recipe/recipe_editor.h"

#include <QAction>
#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QRadioButton>
#include <QScrollArea>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QToolButton>
#include <QUndoStack>
#include <QVBoxLayout>

#include <algorithm>

#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_edits.h"
#include "widgets/recipe/model_wide_box.h"
#include "core/compress/schemes.h"
#include "widgets/recipe/recipe_section.h"

namespace quench::gui {

namespace {
std::vector<std::string> splitGlobs(const QString& text) {
  std::vector<std::string> out;
  for (const QString& g : text.split(QLatin1Char(','), Qt::SkipEmptyParts))
    if (!g.trimmed().isEmpty()) out.push_back(g.trimmed().toStdString());
  return out;
}

QString joinGlobs(const std::vector<std::string>& globs) {
  QStringList parts;
  for (const auto& g : globs) parts << QString::fromStdString(g);
  return parts.join(QStringLiteral(", "));
}

QToolButton* toolButton(QAction* action, QWidget* parent) {
  auto* b = new QToolButton(parent);
  b->setDefaultAction(action);
  b->setToolButtonStyle(Qt::ToolButtonTextOnly);
  return b;
}
}  // namespace

RecipeEditor::RecipeEditor(RecipeDocument& doc, QWidget* parent) : QWidget(parent), doc_(doc) {
  setObjectName(QStringLiteral("recipeEditor"));
  undo_ = doc_.undoStack()->createUndoAction(this, tr("Undo"));
  undo_->setShortcut(QKeySequence::Undo);
  undo_->setObjectName(QStringLiteral("recipeUndo"));
  redo_ = doc_.undoStack()->createRedoAction(this, tr("Redo"));
  redo_->setShortcut(QKeySequence::Redo);
  redo_->setObjectName(QStringLiteral("recipeRedo"));
  auto* load = new QAction(tr("Load…"), this);
  load->setToolTip(tr("Load a recipe JSON file"));
  connect(load, &QAction::triggered, this, &RecipeEditor::loadFile);
  auto* save = new QAction(tr("Save…"), this);
  save->setToolTip(tr("Save the recipe as JSON (quench-cli compress --recipe FILE runs it)"));
  connect(save, &QAction::triggered, this, &RecipeEditor::saveFile);

  // --- name, presets, file and history ---
  name_ = new QLineEdit(this);
  name_->setObjectName(QStringLiteral("recipeName"));
  name_->setToolTip(tr("The recipe's name; runs are recorded under it"));
  connect(name_, &QLineEdit::editingFinished, this, [this] {
    if (name_->text().toStdString() != doc_.json().value("name", std::string()))
      doc_.change(withName(doc_.json(), name_->text().toStdString()), tr("Rename recipe"));
  });
  presets_ = new QComboBox(this);
  presets_->setObjectName(QStringLiteral("presets"));
  presets_->addItems(presetNames());
  presets_->setToolTip(tr("A whole recipe: compressed-tensors schemes, or a method's preset (quamba for Mamba models)"));
  auto* use_preset = new QPushButton(tr("Use preset"), this);
  use_preset->setObjectName(QStringLiteral("usePreset"));
  connect(use_preset, &QPushButton::clicked, this, [this] { applyPreset(presets_->currentText()); });
  auto* top = new QHBoxLayout();
  top->addWidget(new QLabel(tr("Name"), this));
  top->addWidget(name_, 1);
  // Buttons with short labels; the menu's actions (undo_, redo_) name the edit and carry the shortcuts.
  auto* undo_button = new QAction(tr("Undo"), this);
  auto* redo_button = new QAction(tr("Redo"), this);
  QUndoStack* stack = doc_.undoStack();
  connect(undo_button, &QAction::triggered, stack, &QUndoStack::undo);
  connect(redo_button, &QAction::triggered, stack, &QUndoStack::redo);
  connect(stack, &QUndoStack::canUndoChanged, undo_button, &QAction::setEnabled);
  connect(stack, &QUndoStack::canRedoChanged, redo_button, &QAction::setEnabled);
  connect(stack, &QUndoStack::undoTextChanged, undo_button, [undo_button](const QString& t) { undo_button->setToolTip(tr("Undo %1").arg(t)); });
  connect(stack, &QUndoStack::redoTextChanged, redo_button, [redo_button](const QString& t) { redo_button->setToolTip(tr("Redo %1").arg(t)); });
  undo_button->setEnabled(false);
  redo_button->setEnabled(false);
  top->addWidget(toolButton(undo_button, this));
  top->addWidget(toolButton(redo_button, this));
  top->addWidget(toolButton(load, this));
  top->addWidget(toolButton(save, this));
  auto* preset_row = new QHBoxLayout();
  preset_row->addWidget(new QLabel(tr("Preset"), this));
  preset_row->addWidget(presets_, 1);
  preset_row->addWidget(use_preset);

  // --- the setting and what it applies to ---
  auto* target_box = new QGroupBox(tr("Apply to"), this);
  to_selection_ = new QRadioButton(tr("Selected layers"), target_box);
  to_selection_->setObjectName(QStringLiteral("toSelection"));
  to_glob_ = new QRadioButton(tr("Layers matching"), target_box);
  to_glob_->setObjectName(QStringLiteral("toGlob"));
  to_default_ = new QRadioButton(tr("Default (every Linear/Conv2d layer but the output head)"), target_box);
  to_default_->setObjectName(QStringLiteral("toDefault"));
  glob_ = new QLineEdit(target_box);
  glob_->setObjectName(QStringLiteral("targetGlob"));
  glob_->setPlaceholderText(QStringLiteral("model.layers.*.mlp.*"));
  glob_->setToolTip(tr("Globs over Hugging Face module names, commas between: * any text, ? one character"));
  connect(glob_, &QLineEdit::textEdited, this, [this] { to_glob_->setChecked(true); });
  auto* group = new QButtonGroup(this);
  for (QRadioButton* b : {to_selection_, to_glob_, to_default_}) group->addButton(b);
  to_selection_->setChecked(true);
  auto* target_layout = new QGridLayout(target_box);
  target_layout->addWidget(to_selection_, 0, 0, 1, 2);
  target_layout->addWidget(to_glob_, 1, 0);
  target_layout->addWidget(glob_, 1, 1);
  target_layout->addWidget(to_default_, 2, 0, 1, 2);
  target_layout->setColumnStretch(1, 1);

  auto* setting_box = new QWidget(this);
  auto* setting_layout = new QVBoxLayout(setting_box);
  setting_layout->setContentsMargins(0, 0, 0, 0);
  sections_ = makeRecipeSections(setting_box);
  for (RecipeSection* s : sections_) setting_layout->addWidget(s);
  sections_.front()->setMode(RecipeSection::Mode::Set);  // the common case: set the weights
  skip_ = new QCheckBox(tr("Keep in full precision (skip)"), this);
  skip_->setObjectName(QStringLiteral("skip"));
  connect(skip_, &QCheckBox::toggled, setting_box, [setting_box](bool on) { setting_box->setEnabled(!on); });
  apply_ = new QPushButton(tr("Apply setting"), this);
  apply_->setObjectName(QStringLiteral("applySetting"));
  apply_->setDefault(true);
  connect(apply_, &QPushButton::clicked, this, &RecipeEditor::applySetting);
  status_ = new QLabel(this);
  status_->setObjectName(QStringLiteral("recipeStatus"));
  status_->setWordWrap(true);

  // --- the rules, in the order they apply ---
  rules_ = new QTableWidget(0, 2, this);
  rules_->setObjectName(QStringLiteral("recipeRules"));
  rules_->setHorizontalHeaderLabels({tr("Applies to"), tr("Setting")});
  rules_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Interactive);
  rules_->horizontalHeader()->setStretchLastSection(true);
  rules_->setColumnWidth(0, 180);
  rules_->verticalHeader()->setVisible(false);
  rules_->setSelectionBehavior(QAbstractItemView::SelectRows);
  rules_->setSelectionMode(QAbstractItemView::SingleSelection);
  rules_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  rules_->setWordWrap(false);
  rules_->setMinimumHeight(110);
  rules_->setMaximumHeight(170);
  rules_->setToolTip(tr("The default first, then overrides in order: later rules win, field by field. Click a rule to edit it."));
  connect(rules_, &QTableWidget::currentCellChanged, this, [this](int row, int, int, int) { showRule(row); });
  auto* remove = new QPushButton(tr("Remove"), this);
  remove->setObjectName(QStringLiteral("removeRule"));
  connect(remove, &QPushButton::clicked, this, &RecipeEditor::removeRule);
  auto* up = new QPushButton(tr("Up"), this);
  connect(up, &QPushButton::clicked, this, [this] { moveRule(-1); });
  auto* down = new QPushButton(tr("Down"), this);
  connect(down, &QPushButton::clicked, this, [this] { moveRule(+1); });
  auto* rule_buttons = new QHBoxLayout();
  rule_buttons->addWidget(remove);
  rule_buttons->addWidget(up);
  rule_buttons->addWidget(down);
  rule_buttons->addStretch(1);
  ignore_ = new QLineEdit(this);
  ignore_->setObjectName(QStringLiteral("ignore"));
  ignore_->setPlaceholderText(tr("globs kept in full precision whatever else says, e.g. model.layers.0.*"));
  connect(ignore_, &QLineEdit::editingFinished, this, [this] {
    const auto globs = splitGlobs(ignore_->text());
    if (withIgnore(doc_.json(), globs) != doc_.json()) doc_.change(withIgnore(doc_.json(), globs), tr("Change ignore list"));
  });
  auto* ignore_row = new QHBoxLayout();
  ignore_row->addWidget(new QLabel(tr("Ignore"), this));
  ignore_row->addWidget(ignore_, 1);

  // --- the verdict ---
  error_ = new QLabel(this);
  error_->setObjectName(QStringLiteral("recipeError"));
  error_->setWordWrap(true);
  error_->setStyleSheet(QStringLiteral("color: #c0392b;"));
  error_->setTextInteractionFlags(Qt::TextBrowserInteraction);
  connect(error_, &QLabel::linkActivated, this, [this](const QString& layer) { Q_EMIT jumpToLayer(layer); });
  warnings_ = new QLabel(this);
  warnings_->setObjectName(QStringLiteral("recipeWarnings"));
  warnings_->setWordWrap(true);
  warnings_->setStyleSheet(QStringLiteral("color: #a0661b;"));
  size_ = new QLabel(this);
  size_->setObjectName(QStringLiteral("sizeEstimate"));
  size_->setWordWrap(true);

  auto* inner = new QWidget(this);
  auto* layout = new QVBoxLayout(inner);
  layout->addLayout(top);
  layout->addLayout(preset_row);
  // The verdict first: what the recipe does to the model, or why it cannot run.
  layout->addWidget(size_);
  layout->addWidget(error_);
  layout->addWidget(warnings_);
  layout->addWidget(new QLabel(tr("<b>Rules</b> (the default, then overrides in order; click one to edit it)"), this));
  layout->addWidget(rules_);
  layout->addLayout(rule_buttons);
  layout->addLayout(ignore_row);
  model_wide_ = new ModelWideBox(doc_, this);
  layout->addWidget(model_wide_);
  layout->addWidget(new QLabel(tr("<b>Setting</b>"), this));
  layout->addWidget(target_box);
  layout->addWidget(setting_box);
  auto* apply_row = new QHBoxLayout();
  apply_row->addWidget(skip_);
  apply_row->addStretch(1);
  apply_row->addWidget(apply_);
  layout->addLayout(apply_row);
  layout->addWidget(status_);
  layout->addStretch(1);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(inner);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);  // the editor follows the pane's width
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(scroll);

  connect(&doc_, &RecipeDocument::changed, this, &RecipeEditor::refresh);
  refresh();
  setSelection({});
}

void RecipeEditor::setSelection(const QStringList& layers, const QString& glob) {
  selection_ = layers;
  selection_glob_ = glob;
  if (layers.isEmpty())
    to_selection_->setText(tr("Selected layers (none: select rows in the layer table)"));
  else if (!glob.isEmpty())
    to_selection_->setText(tr("Selected layers (%1, the filter %2)").arg(layers.size()).arg(glob));
  else if (layers.size() == 1)
    to_selection_->setText(tr("Selected layer %1").arg(layers.front()));
  else
    to_selection_->setText(tr("Selected layers (%1)").arg(layers.size()));
}

void RecipeEditor::setTarget(Target t) {
  (t == Target::Selection ? to_selection_ : t == Target::Glob ? to_glob_ : to_default_)->setChecked(true);
}

RecipeEditor::Target RecipeEditor::target() const {
  if (to_default_->isChecked()) return Target::Default;
  return to_glob_->isChecked() ? Target::Glob : Target::Selection;
}

void RecipeEditor::setGlob(const QString& glob) {
  glob_->setText(glob);
  setTarget(Target::Glob);
}

RecipeSection* RecipeEditor::section(const char* key) const {
  for (RecipeSection* s : sections_)
    if (std::string(s->key()) == key) return s;
  return nullptr;
}

nlohmann::json RecipeEditor::setting() const {
  if (skip_->isChecked()) return {{"skip", true}};
  nlohmann::json j = nlohmann::json::object();
  for (const RecipeSection* s : sections_)
    if (auto v = s->value()) j[s->key()] = *v;
  return j;
}

std::vector<std::string> RecipeEditor::match() const {
  switch (target()) {
    case Target::Default: return {};
    case Target::Glob: return splitGlobs(glob_->text());
    case Target::Selection:
      if (!selection_glob_.isEmpty()) return splitGlobs(selection_glob_);
      std::vector<std::string> names;
      for (const QString& l : selection_) names.push_back(l.toStdString());
      return names;
  }
  return {};
}

bool RecipeEditor::applySetting() {
  const nlohmann::json s = setting();
  if (s.empty()) {
    status_->setText(tr("Nothing to apply: set a section, switch one off, or tick skip."));
    return false;
  }
  if (target() == Target::Default) {
    doc_.change(withDefault(doc_.json(), s), tr("Set the default"));
    status_->setText(tr("Applied to the default."));
    return true;
  }
  const auto m = match();
  if (m.empty()) {
    status_->setText(target() == Target::Glob ? tr("Type a glob to apply the setting to.")
                                              : tr("Select layers in the layer table first (Ctrl+A selects every filtered row)."));
    return false;
  }
  doc_.change(withOverride(doc_.json(), m, s), m.size() == 1 ? tr("Set %1").arg(QString::fromStdString(m.front()))
                                                             : tr("Set %1 layers").arg(m.size()));
  status_->setText(tr("Applied to %1.").arg(m.size() == 1 ? QString::fromStdString(m.front()) : tr("%1 layers").arg(m.size())));
  return true;
}

void RecipeEditor::applyPreset(const QString& name) {
  try {
    doc_.change(presetRecipe(name), tr("Use preset %1").arg(name));
    status_->setText(tr("Preset %1.").arg(name));
  } catch (const std::exception& e) {
    status_->setText(QString::fromStdString(e.what()));
  }
}

void RecipeEditor::loadFile() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Load Recipe"), doc_.filePath(), tr("Recipes (*.json);;All files (*)"));
  if (path.isEmpty()) return;
  try {
    doc_.load(path);
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Load Recipe"), QString::fromStdString(e.what()));
  }
}

void RecipeEditor::saveFile() {
  QString path = QFileDialog::getSaveFileName(this, tr("Save Recipe"), doc_.filePath(), tr("Recipes (*.json)"));
  if (path.isEmpty()) return;
  if (!path.endsWith(QStringLiteral(".json"))) path += QStringLiteral(".json");
  try {
    doc_.save(path);
    status_->setText(tr("Saved %1.").arg(path));
  } catch (const std::exception& e) {
    QMessageBox::warning(this, tr("Save Recipe"), QString::fromStdString(e.what()));
  }
}

void RecipeEditor::checkPresets() {
  const Model* model = doc_.model();
  if (model == presets_checked_for_) return;
  presets_checked_for_ = model;
  auto* items = qobject_cast<QStandardItemModel*>(presets_->model());
  if (!items) return;
  for (int i = 0; i < presets_->count(); ++i) {
    QStandardItem* item = items->item(i);
    QString why, note;
    if (model) {
      try {
        const Recipe r = Recipe::parse(presetRecipe(presets_->itemText(i)), presets_->itemText(i).toStdString());
        const ResolvedRecipe plan = resolve(r, *model);
        // What the preset does differently on this model (a group that falls back per layer).
        QStringList warnings;
        for (const auto& w : plan.warnings) warnings << QString::fromStdString(w);
        if (!warnings.isEmpty()) note = tr("On this model: %1").arg(warnings.mid(0, 3).join(QStringLiteral("; ")) +
                                                                   (warnings.size() > 3 ? tr("; and %1 more").arg(warnings.size() - 3) : QString()));
      } catch (const std::exception& e) {
        why = QString::fromUtf8(e.what());
      }
    }
    item->setEnabled(why.isEmpty());
    item->setToolTip(why.isEmpty() ? note : tr("Does not apply to this model: %1").arg(why));
  }
  // The current choice moves to the first preset that applies.
  if (!items->item(presets_->currentIndex())->isEnabled())
    for (int i = 0; i < presets_->count(); ++i)
      if (items->item(i)->isEnabled()) {
        presets_->setCurrentIndex(i);
        break;
      }
}

void RecipeEditor::refresh() {
  checkPresets();
  const nlohmann::json& j = doc_.json();
  // A recipe built on a preset shows that preset as the current choice.
  if (j.contains("preset") && j["preset"].is_string()) {
    const int i = presets_->findText(QString::fromStdString(j["preset"].get<std::string>()));
    if (i >= 0 && i != presets_->currentIndex()) {
      const QSignalBlocker block(presets_);
      presets_->setCurrentIndex(i);
    }
  }
  const std::string name = j.value("name", std::string());
  if (name_->text().toStdString() != name) name_->setText(QString::fromStdString(name));
  std::vector<std::string> ignore;
  if (j.contains("ignore") && j["ignore"].is_array())
    for (const auto& g : j["ignore"])
      if (g.is_string()) ignore.push_back(g.get<std::string>());
  if (!ignore_->hasFocus()) ignore_->setText(joinGlobs(ignore));

  const QSignalBlocker block(rules_);
  const int keep = rules_->currentRow();
  const nlohmann::json overrides = j.contains("overrides") && j["overrides"].is_array() ? j["overrides"] : nlohmann::json::array();
  rules_->setRowCount(1 + static_cast<int>(overrides.size()));
  nlohmann::json def = j.contains("default") ? j["default"] : nlohmann::json::object();
  if (j.contains("scheme")) def["scheme"] = j["scheme"];
  if (j.contains("activations")) def["activations"] = j["activations"];
  if (j.contains("kv_cache")) def["kv_cache"] = j["kv_cache"];
  QString def_text = entrySummary(def);
  if (j.contains("preset") && j["preset"].is_string()) def_text = tr("preset %1; %2").arg(QString::fromStdString(j["preset"].get<std::string>()), def_text);
  auto set = [this](int row, const QString& a, const QString& b) {
    auto* ia = new QTableWidgetItem(a);
    ia->setToolTip(a);
    auto* ib = new QTableWidgetItem(b);
    ib->setToolTip(b);
    rules_->setItem(row, 0, ia);
    rules_->setItem(row, 1, ib);
  };
  set(0, tr("default"), def_text);
  for (size_t i = 0; i < overrides.size(); ++i) set(static_cast<int>(i) + 1, joinGlobs(matchList(overrides[i])), entrySummary(overrides[i]));
  if (keep >= 0 && keep < rules_->rowCount()) rules_->setCurrentCell(keep, 0);

  if (doc_.error().isEmpty()) {
    error_->clear();
  } else {
    QString text = doc_.error().toHtmlEscaped();
    if (!doc_.errorLayer().isEmpty())
      text += tr(" — <a href=\"%1\">show %1</a>").arg(doc_.errorLayer().toHtmlEscaped());
    error_->setText(text);
  }
  warnings_->setText(doc_.warnings().isEmpty() ? QString() : tr("Warning: %1").arg(doc_.warnings().join(QStringLiteral("\nWarning: "))));
  // Empty lines would leave gaps between the size estimate and the rules.
  error_->setVisible(!error_->text().isEmpty());
  warnings_->setVisible(!warnings_->text().isEmpty());
  if (const SizeEstimate* s = doc_.size()) {
    const QLocale locale;
    QString text = tr("<b>Estimated size</b> %1 of %2 at 16 bits (%3× smaller); %4 bits per weight over the layers")
                       .arg(locale.formattedDataSize(s->bytes), locale.formattedDataSize(s->original_bytes))
                       .arg(s->compression(), 0, 'f', 2)
                       .arg(s->bits_per_weight, 0, 'f', 2);
    if (const ResolvedRecipe* p = doc_.plan())
      text += tr("; %1 of %2 layers compressed").arg(p->compressed_layers()).arg(p->layers.size());
    if (s->kv_bits_per_element < 16) text += tr("; KV cache %1 bits per element").arg(s->kv_bits_per_element, 0, 'f', 2);
    // The core's plan says the same (quench-cli compress --plan): FLAP's channels are chosen on data.
    if (const ResolvedRecipe* p = doc_.plan(); p && p->structured)
      text += tr("<br>Not counted yet: structured pruning, %1. Which channels and heads go is decided on the calibration data, "
                 "so it is counted after the run.")
                  .arg(QString::fromStdString(p->structured->describe()).toHtmlEscaped());
    size_->setText(text);
  } else {
    size_->setText(doc_.error().isEmpty() ? tr("Open a model to see what the recipe does to it.") : tr("No size estimate while the recipe has an error."));
  }
}

void RecipeEditor::showRule(int row) {
  const nlohmann::json& j = doc_.json();
  nlohmann::json entry;
  if (row == 0) {
    entry = j.contains("default") ? j["default"] : nlohmann::json::object();
    setTarget(Target::Default);
  } else if (row > 0 && j.contains("overrides") && j["overrides"].is_array() && static_cast<size_t>(row - 1) < j["overrides"].size()) {
    entry = j["overrides"][static_cast<size_t>(row - 1)];
    glob_->setText(joinGlobs(matchList(entry)));
    setTarget(Target::Glob);
  } else {
    return;
  }
  if (entry.contains("scheme") && entry["scheme"].is_string())
    if (auto sections = expand_scheme(entry["scheme"].get<std::string>())) {
      entry["weights"] = sections->weights;
      entry["activations"] = sections->activations;
    }
  skip_->setChecked(entry.value("skip", false));
  for (RecipeSection* s : sections_) s->setValue(entry.contains(s->key()) ? &entry[s->key()] : nullptr);
}

void RecipeEditor::removeRule() {
  const int row = rules_->currentRow();
  if (row <= 0) {
    status_->setText(tr("Select an override to remove (the default stays; set its sections off instead)."));
    return;
  }
  doc_.change(withoutOverride(doc_.json(), static_cast<size_t>(row - 1)), tr("Remove rule %1").arg(rules_->item(row, 0)->text()));
}

void RecipeEditor::moveRule(int delta) {
  const int row = rules_->currentRow();
  if (row <= 0) return;
  doc_.change(withOverrideMoved(doc_.json(), static_cast<size_t>(row - 1), delta), tr("Move rule"));
  rules_->setCurrentCell(std::clamp(row + delta, 1, rules_->rowCount() - 1), 0);
}

}  // namespace quench::gui
