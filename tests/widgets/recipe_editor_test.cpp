// The recipe editor on the bundled sotu-llama: edits as pure JSON functions, the document's
// verdict from the core (plan, size, errors naming key and layer), the editor's click path with
// multi-select and glob targets, presets, undo/redo, and load/save through the strict parser.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableView>
#include <QTableWidget>
#include <QUndoStack>
#include <QtTest>

#include "core/compress/recipe.h"
#include "core/util/error.h"
#include "test_support.h"
#include "widgets/layers/layer_browser.h"
#include "widgets/layers/layer_filter_proxy.h"
#include "widgets/layers/layer_table_model.h"
#include "widgets/recipe/recipe_document.h"
#include "widgets/recipe/recipe_edits.h"
#include "widgets/recipe/recipe_editor.h"
#include "widgets/recipe/model_wide_box.h"
#include "widgets/recipe/recipe_section.h"
#include "widgets/session/model_session.h"

using namespace quench::gui;
using nlohmann::json;

namespace {
const std::string kMlp = "model.layers.*.mlp.*";

// Sets the weights section of the editor to W<bits> with groups of `group` (0: per channel).
void setWeights(RecipeEditor& editor, int bits, int group) {
  RecipeSection* w = editor.section("weights");
  w->setMode(RecipeSection::Mode::Set);
  w->findChild<QSpinBox*>(QStringLiteral("bits"))->setValue(bits);
  auto* strategy = w->findChild<QComboBox*>(QStringLiteral("strategy"));
  strategy->setCurrentIndex(strategy->findData(group ? QStringLiteral("group") : QStringLiteral("channel")));
  if (group) w->findChild<QSpinBox*>(QStringLiteral("groupSize"))->setValue(group);
}

QString settingOf(const LayerTableModel& m, const ModelSession& s, const char* layer) {
  return m.index(s.rowOf(layer), LayerTableModel::SettingColumn).data().toString();
}
}  // namespace

class RecipeEditorTest : public QObject {
  Q_OBJECT

 private:
  std::shared_ptr<ModelSession> session_;

 private Q_SLOTS:
  void initTestCase() { session_ = test::loadSession(test::demo(QStringLiteral("sotu-llama")), false); }

  void editsArePureJson() {
    json r = {{"name", "r"}, {"scheme", "W8A8"}};
    // The default: the top-level scheme is written out, so editing the weights keeps A8.
    json d = withDefault(r, {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 128}}}});
    QVERIFY(!d.contains("scheme"));
    QCOMPARE(d["default"]["weights"]["bits"].get<int>(), 4);
    QVERIFY(d["default"]["activations"].is_object());
    // The same match again updates its override; another match appends one.
    json o = withOverride(d, {kMlp}, {{"weights", {{"bits", 8}}}});
    o = withOverride(o, {kMlp}, {{"activations", nullptr}});
    QCOMPARE(o["overrides"].size(), size_t(1));
    QCOMPARE(o["overrides"][0]["match"].get<std::string>(), kMlp);
    QCOMPARE(o["overrides"][0]["weights"]["bits"].get<int>(), 8);
    QVERIFY(o["overrides"][0]["activations"].is_null());
    o = withOverride(o, {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj"}, {{"skip", true}});
    QCOMPARE(o["overrides"].size(), size_t(2));
    QVERIFY(o["overrides"][1]["match"].is_array());
    QCOMPARE(matchList(o["overrides"][1]).size(), size_t(2));
    const json moved = withOverrideMoved(o, 1, -1);
    QCOMPARE(moved["overrides"][0]["skip"].get<bool>(), true);
    const json removed = withoutOverride(o, 0);
    QCOMPARE(removed["overrides"].size(), size_t(1));
    QVERIFY_THROWS_EXCEPTION(quench::Error, withoutOverride(o, 5));
    QVERIFY(entrySummary(o["overrides"][1]).contains(QStringLiteral("skip")));
    // Presets: schemes and the core's presets; an unknown name is refused with the valid ones.
    QVERIFY(presetNames().contains(QStringLiteral("W8A8")));
    QVERIFY(presetNames().contains(QStringLiteral("W4A16-G128")));
    QVERIFY(presetNames().contains(QStringLiteral("quamba")));
    QCOMPARE(presetRecipe(QStringLiteral("quamba"))["preset"].get<std::string>(), std::string("quamba"));
    // Every listed preset is a recipe the core parses (the FP4 and GGUF schemes included).
    for (const QString& p : presetNames()) QVERIFY_THROWS_NO_EXCEPTION(quench::Recipe::parse(presetRecipe(p)));
    QVERIFY(presetNames().contains(QStringLiteral("NVFP4A16")));
    QVERIFY_THROWS_EXCEPTION(quench::UsageError, presetRecipe(QStringLiteral("W9A9")));
  }

  void documentResolvesAgainstTheModel() {
    RecipeDocument doc;
    QVERIFY(doc.valid());
    QVERIFY(!doc.plan());  // no model yet
    doc.setModel(session_->model());
    QVERIFY(doc.plan());
    QCOMPARE(static_cast<int>(doc.plan()->layers.size()), session_->layerCount());
    QCOMPARE(doc.plan()->compressed_layers(), int64_t(0));
    const int64_t original = doc.size()->bytes;
    doc.change(presetRecipe(QStringLiteral("W8A8")), QStringLiteral("preset"));
    QVERIFY(doc.valid());
    // The embedding (tied to the head) stays at 16 bits, so 8-bit layers save less than half.
    const int64_t w8 = doc.size()->bytes;
    QVERIFY(w8 < original * 9 / 10);
    QVERIFY(doc.plan()->compressed_layers() > 0);
    // sotu-llama's down_proj has 688 inputs: the W4A16-G128 preset (a default) gives them groups
    // of 86, the largest divisor below 128, and says so in a warning naming the layer.
    doc.change(presetRecipe(QStringLiteral("W4A16-G128")), QStringLiteral("preset"));
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QVERIFY(doc.size()->bytes < w8);
    QVERIFY2(doc.warnings().join(QLatin1Char('\n')).contains(QStringLiteral("down_proj: group_size 128 does not divide its 688 input features; it uses 86")),
             qPrintable(doc.warnings().join(QLatin1Char('\n'))));
    // Groups of 128 spelled out are exact: the error names the key and the layer, and nothing is
    // estimated for a recipe that cannot run.
    doc.change(withDefault(nlohmann::json::object(), {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 128}}}}),
               QStringLiteral("exact"));
    QVERIFY(!doc.valid());
    QCOMPARE(doc.errorKey(), QStringLiteral("default.weights.group_size"));
    QVERIFY2(doc.error().contains(QStringLiteral("group_fallback")), qPrintable(doc.error()));
    QVERIFY2(doc.errorLayer().endsWith(QStringLiteral("down_proj")), qPrintable(doc.errorLayer()));
    QVERIFY(!doc.size());
    // Fixed by an override for the down_proj layers.
    doc.change(withOverride(doc.json(), {"model.layers.*.mlp.down_proj"}, {{"weights", {{"bits", 4}, {"strategy", "channel"}}}}),
               QStringLiteral("fix"));
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QVERIFY(doc.size()->bytes < w8);
    doc.undoStack()->undo();
    doc.undoStack()->undo();
    QCOMPARE(doc.json(), presetRecipe(QStringLiteral("W4A16-G128")));
    // A setting key the parser does not know is an error naming it.
    doc.change(withDefault(doc.json(), {{"weights", {{"num_bits", 4}}}}), QStringLiteral("alias"));
    QVERIFY(!doc.valid());
    QVERIFY2(doc.error().contains(QStringLiteral("num_bits")), qPrintable(doc.error()));
  }

  // On sotu-llama (down_proj has 688 inputs, and it is no Mamba) the presets that cannot apply are
  // listed but disabled, their tooltip saying why; the current choice is one that applies.
  void presetsThatCannotApplyAreDisabled() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    auto* combo = editor.findChild<QComboBox*>(QStringLiteral("presets"));
    QVERIFY(combo);
    auto* items = qobject_cast<QStandardItemModel*>(combo->model());
    QVERIFY(items);
    auto item = [&](const char* name) { return items->item(combo->findText(QString::fromLatin1(name))); };
    QVERIFY(item("W8A8")->isEnabled());
    // Groups of 128 fall back per layer on down_proj's 688 inputs: offered, saying so.
    QVERIFY(item("W4A16-G128")->isEnabled());
    QVERIFY2(item("W4A16-G128")->toolTip().contains(QStringLiteral("it uses 86")), qPrintable(item("W4A16-G128")->toolTip()));
    QVERIFY(!item("quamba")->isEnabled());
    QVERIFY(!item("quamba")->toolTip().isEmpty());
    QVERIFY(items->item(combo->currentIndex())->isEnabled());
  }

  void editorClickPathWithUndo() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    LayerBrowser browser;
    browser.setSession(session_.get());
    browser.model()->setRecipe(&doc);
    RecipeEditor editor(doc);
    QObject::connect(&browser, &LayerBrowser::selectionChanged, &editor,
                     [&] { editor.setSelection(browser.selectedLayers(), browser.selectionGlob()); });
    editor.show();
    browser.show();

    // Filter the table to the MLP layers and select every row: the rule names the filter's glob.
    browser.filter()->setText(QString::fromStdString(kMlp));
    browser.view()->selectAll();
    QCOMPARE(browser.selectedLayers().size(), 18);
    QCOMPARE(browser.selectionGlob(), QString::fromStdString(kMlp));
    setWeights(editor, 4, 128);
    editor.section("weights")->findChild<QComboBox*>(QStringLiteral("method"))->setCurrentIndex(0);  // RTN
    QTest::mouseClick(editor.findChild<QPushButton*>(QStringLiteral("applySetting")), Qt::LeftButton);
    QCOMPARE(doc.json()["overrides"][0]["match"].get<std::string>(), kMlp);
    // 688-input down_proj layers cannot take groups of 128: the error names layer and key.
    QVERIFY(!doc.valid());
    QVERIFY(doc.errorLayer().endsWith(QStringLiteral("down_proj")));
    QVERIFY(editor.errorLabel()->text().contains(QStringLiteral("group_size")));
    // Undo, then a group size that divides every MLP input (256 and 688): 16.
    QVERIFY(editor.undoAction()->isEnabled());
    editor.undoAction()->trigger();
    QVERIFY(doc.valid());
    QVERIFY(!doc.json().contains("overrides"));
    setWeights(editor, 4, 16);
    QVERIFY(editor.applySetting());
    QVERIFY(doc.valid());
    QVERIFY(settingOf(*browser.model(), *session_, "model.layers.0.mlp.down_proj").startsWith(QStringLiteral("W4")));
    QVERIFY(settingOf(*browser.model(), *session_, "model.layers.0.mlp.down_proj").contains(QStringLiteral("g16")));
    QVERIFY(!settingOf(*browser.model(), *session_, "model.layers.0.self_attn.q_proj").startsWith(QStringLiteral("W")));
    QVERIFY(editor.sizeLabel()->text().contains(QStringLiteral("Estimated size")));
    QCOMPARE(editor.rules()->rowCount(), 2);  // the default and one override

    // Several hand-picked rows: a rule listing the layers.
    browser.filter()->clear();
    browser.view()->clearSelection();
    browser.selectLayer(QStringLiteral("model.layers.1.self_attn.q_proj"));
    const QModelIndex k = browser.proxy()->mapFromSource(browser.model()->index(session_->rowOf("model.layers.1.self_attn.k_proj"), 0));
    browser.view()->selectionModel()->select(k, QItemSelectionModel::Select | QItemSelectionModel::Rows);
    QCOMPARE(browser.selectedLayers().size(), 2);
    QVERIFY(browser.selectionGlob().isEmpty());
    editor.setTarget(RecipeEditor::Target::Selection);
    editor.findChild<QCheckBox*>(QStringLiteral("skip"))->setChecked(true);
    QVERIFY(editor.applySetting());
    QCOMPARE(matchList(doc.json()["overrides"][1]).size(), size_t(2));
    QVERIFY(settingOf(*browser.model(), *session_, "model.layers.1.self_attn.k_proj").contains(QStringLiteral("skip")));
    editor.findChild<QCheckBox*>(QStringLiteral("skip"))->setChecked(false);

    // A glob target and the default.
    editor.setGlob(QStringLiteral("model.layers.5.*"));
    setWeights(editor, 8, 0);
    QVERIFY(editor.applySetting());
    QCOMPARE(matchList(doc.json()["overrides"][2]).front(), std::string("model.layers.5.*"));
    editor.setTarget(RecipeEditor::Target::Default);
    QVERIFY(editor.applySetting());
    QCOMPARE(doc.json()["default"]["weights"]["bits"].get<int>(), 8);
    QVERIFY(settingOf(*browser.model(), *session_, "model.layers.3.self_attn.o_proj").startsWith(QStringLiteral("W8")));

    // Clicking a rule shows its setting; undo walks back through every edit, redo forward.
    editor.rules()->setCurrentCell(1, 0);
    QCOMPARE(editor.section("weights")->findChild<QSpinBox*>(QStringLiteral("groupSize"))->value(), 16);
    QCOMPARE(editor.target(), RecipeEditor::Target::Glob);
    const json last = doc.json();
    const int steps = doc.undoStack()->index();
    QCOMPARE(steps, 4);
    for (int i = 0; i < steps; ++i) doc.undoStack()->undo();
    QCOMPARE(doc.json(), json({{"name", "recipe"}}));
    QVERIFY(settingOf(*browser.model(), *session_, "model.layers.0.mlp.down_proj").startsWith(QStringLiteral("kept")));
    for (int i = 0; i < steps; ++i) editor.redoAction()->trigger();
    QCOMPARE(doc.json(), last);

    // Presets replace the whole recipe, undoably; quamba is for Mamba and says so here.
    editor.applyPreset(QStringLiteral("quamba"));
    QVERIFY(!doc.valid());
    QVERIFY2(doc.error().contains(QStringLiteral("amba"), Qt::CaseInsensitive), qPrintable(doc.error()));
    editor.undoAction()->trigger();
    QCOMPARE(doc.json(), last);
  }

  // The KV cache section: FP8 (static per tensor) has no fields of its own, so KIVI's are disabled,
  // and the rule's JSON is {"method": "fp8"}; the estimate counts 8 bits per cached element.
  void kvCacheFp8FromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    RecipeSection* kv = editor.section("kv_cache");
    QVERIFY(kv);
    kv->setMode(RecipeSection::Mode::Set);
    auto* method = kv->findChild<QComboBox*>(QStringLiteral("method"));
    auto* bits = kv->findChild<QSpinBox*>(QStringLiteral("bits"));
    QVERIFY(bits->isEnabled());
    method->setCurrentIndex(method->findData(QStringLiteral("fp8")));
    QVERIFY(!bits->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["kv_cache"], json({{"method", "fp8"}}));
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("KV cache 8.00 bits")), qPrintable(editor.sizeLabel()->text()));
    if (const QString dir = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR"); !dir.isEmpty()) {
      editor.resize(520, 1500);
      QVERIFY(editor.grab().save(dir + QStringLiteral("/recipe-kv-fp8.png")));
    }
    // Back to KIVI: its fields come back with it.
    method->setCurrentIndex(method->findData(QStringLiteral("kivi")));
    QVERIFY(bits->isEnabled());
    QVERIFY(editor.applySetting());
    QCOMPARE(doc.json()["default"]["kv_cache"]["method"], "kivi");
    // ZipCache: its salient share and bits, no residual window; 0.4·4 + 0.6·2 + 32/32 bits.
    auto* residual = kv->findChild<QSpinBox*>(QStringLiteral("residual"));
    auto* salient = kv->findChild<QDoubleSpinBox*>(QStringLiteral("salient"));
    QVERIFY(residual && salient && !salient->isEnabled());
    method->setCurrentIndex(method->findData(QStringLiteral("zipcache")));
    QVERIFY(salient->isEnabled() && !residual->isEnabled() && bits->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["kv_cache"],
             json({{"method", "zipcache"}, {"bits", 2}, {"high_bits", 4}, {"salient", 0.4}, {"group_size", 32}}));
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("KV cache 3.80 bits")), qPrintable(editor.sizeLabel()->text()));
  }

  // OliVe is a grid of its own (no bits, no groups), DGQ a method on asymmetric groups: both come
  // out of the weights form as rules the core accepts.
  void oliveAndDgqFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    RecipeSection* weights = editor.section("weights");
    weights->setMode(RecipeSection::Mode::Set);
    auto* format = weights->findChild<QComboBox*>(QStringLiteral("format"));
    auto* method = weights->findChild<QComboBox*>(QStringLiteral("method"));
    auto* bits = weights->findChild<QSpinBox*>(QStringLiteral("bits"));
    format->setCurrentIndex(format->findData(QStringLiteral("olive")));
    QVERIFY(!bits->isEnabled());
    QVERIFY(!weights->findChild<QComboBox*>(QStringLiteral("clip"))->isEnabled());  // OliVe searches its own scale
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["weights"], json({{"type", "olive"}, {"strategy", "channel"}, {"method", "rtn"}}));
    format->setCurrentIndex(format->findData(QStringLiteral("int")));
    bits->setValue(4);
    weights->findChild<QCheckBox*>(QStringLiteral("symmetric"))->setChecked(false);
    auto* strategy = weights->findChild<QComboBox*>(QStringLiteral("strategy"));
    strategy->setCurrentIndex(strategy->findData(QStringLiteral("group")));
    weights->findChild<QCheckBox*>(QStringLiteral("groupFallback"))->setChecked(true);
    method->setCurrentIndex(method->findData(QStringLiteral("dgq")));
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["weights"]["method"], "dgq");
    // A symmetric DGQ rule is refused with the core's message, naming the key.
    weights->findChild<QCheckBox*>(QStringLiteral("symmetric"))->setChecked(true);
    editor.applySetting();
    QVERIFY(!doc.valid());
    QVERIFY2(doc.error().contains(QStringLiteral("symmetric")), qPrintable(doc.error()));
  }

  // Palu from the low-rank section on a glob of the key/value projections: the method enables its
  // heads-per-group box and writes group_heads; on the queries the core refuses it, naming the layer.
  void paluFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setGlob(QStringLiteral("*.self_attn.k_proj"));
    RecipeSection* lowrank = editor.section("lowrank");
    lowrank->setMode(RecipeSection::Mode::Set);
    auto* method = lowrank->findChild<QComboBox*>(QStringLiteral("method"));
    auto* heads = lowrank->findChild<QSpinBox*>(QStringLiteral("groupHeads"));
    QVERIFY(!heads->isEnabled());
    method->setCurrentIndex(method->findData(QStringLiteral("palu")));
    QVERIFY(heads->isEnabled());
    heads->setValue(2);
    auto* by = lowrank->findChild<QComboBox*>(QStringLiteral("by"));
    by->setCurrentIndex(by->findData(QStringLiteral("ratio")));
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["overrides"][0]["lowrank"], json({{"method", "palu"}, {"ratio", 0.5}, {"group_heads", 2}}));
    editor.setGlob(QStringLiteral("*.self_attn.q_proj"));
    editor.applySetting();
    QVERIFY(!doc.valid());
    QVERIFY2(doc.error().contains(QStringLiteral("key and value projections")), qPrintable(doc.error()));
  }

  // The weights' block formats (GGUF's types, MXFP4, NVFP4): choosing one disables the integer
  // grid's fields and writes {"format": …} alone, which the core accepts; the estimate counts the
  // format's bits, and the layers whose inputs are not whole blocks are named as staying float.
  void weightFormatFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    RecipeSection* weights = editor.section("weights");
    QVERIFY(weights);
    weights->setMode(RecipeSection::Mode::Set);
    auto* format = weights->findChild<QComboBox*>(QStringLiteral("format"));
    auto* bits = weights->findChild<QSpinBox*>(QStringLiteral("bits"));
    QVERIFY(format && bits && bits->isEnabled());
    format->setCurrentIndex(format->findData(QStringLiteral("nvfp4")));
    QVERIFY(!bits->isEnabled());
    QVERIFY(!weights->findChild<QSpinBox*>(QStringLiteral("groupSize"))->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["weights"], json({{"format", "nvfp4"}, {"method", "rtn"}}));
    // sotu-llama's six down_proj (688 inputs, not whole blocks of 64) and the tied head stay float.
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("36 of 44 layers compressed")), qPrintable(editor.sizeLabel()->text()));
    if (const QString dir = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR"); !dir.isEmpty()) {
      editor.resize(520, 1500);
      QVERIFY(editor.grab().save(dir + QStringLiteral("/recipe-weight-format.png")));
    }
    // The rule reads back into the form, and back to integers restores the grid's fields.
    format->setCurrentIndex(format->findData(QStringLiteral("int")));
    QVERIFY(bits->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY(!doc.json()["default"]["weights"].contains("format"));
    QVERIFY(doc.json()["default"]["weights"].contains("bits"));
  }

  // Pruning and low rank from the editor, as a user sets them: 2:4 SparseGPT on the MLPs and a
  // half-size SVD-LLM on attention, each in its own rule with the weights left as inherited; the
  // core accepts what was written, plans every matched layer, and a rule reads back into its form.
  void pruningAndLowRankFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    setWeights(editor, 8, 0);
    editor.setTarget(RecipeEditor::Target::Default);
    QVERIFY(editor.applySetting());

    editor.setGlob(QStringLiteral("*.mlp.*"));
    editor.section("weights")->setMode(RecipeSection::Mode::Inherit);
    RecipeSection* prune = editor.section("prune");
    QVERIFY(prune);
    prune->setMode(RecipeSection::Mode::Set);
    auto* method = prune->findChild<QComboBox*>(QStringLiteral("method"));
    auto* damp = prune->findChild<QDoubleSpinBox*>(QStringLiteral("damp"));
    QVERIFY(method && damp && !damp->isEnabled());  // magnitude has no damping
    method->setCurrentIndex(method->findData(QStringLiteral("sparsegpt")));
    QVERIFY(damp->isEnabled());
    damp->setValue(0.02);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["overrides"][0]["prune"], json({{"method", "sparsegpt"}, {"pattern", "2:4"}, {"damp", 0.02}}));
    QVERIFY(!doc.json()["overrides"][0].contains("weights"));

    editor.setGlob(QStringLiteral("*.self_attn.*"));
    prune->setMode(RecipeSection::Mode::Inherit);
    RecipeSection* lowrank = editor.section("lowrank");
    QVERIFY(lowrank);
    lowrank->setMode(RecipeSection::Mode::Set);
    auto* lr_method = lowrank->findChild<QComboBox*>(QStringLiteral("method"));
    lr_method->setCurrentIndex(lr_method->findData(QStringLiteral("svd-llm")));
    QVERIFY(lowrank->findChild<QDoubleSpinBox*>(QStringLiteral("ratio"))->isEnabled());
    QVERIFY(!lowrank->findChild<QSpinBox*>(QStringLiteral("rank"))->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["overrides"][1]["lowrank"], json({{"method", "svd-llm"}, {"ratio", 0.5}}));

    const quench::ResolvedRecipe* plan = doc.plan();
    QVERIFY(plan);
    int pruned = 0, factored = 0;
    for (const auto& l : plan->layers) {
      if (l.prune) {
        ++pruned;
        QCOMPARE(l.prune->n, 2);
        QCOMPARE(l.prune->m, 4);
        QVERIFY(l.weights);  // W8 from the default: pruned, then quantized
      }
      factored += l.lowrank ? 1 : 0;
    }
    QCOMPARE(pruned, 18);    // 6 blocks × gate, up, down
    QCOMPARE(factored, 24);  // 6 blocks × q, k, v, o
    QVERIFY(editor.rules()->item(1, 1)->text().contains(QStringLiteral("prune:")));

    // The first rule reads back into the form; N:M as N and M.
    editor.rules()->setCurrentCell(1, 0);
    QCOMPARE(prune->mode(), RecipeSection::Mode::Set);
    QCOMPARE(prune->findChild<QSpinBox*>(QStringLiteral("n"))->value(), 2);
    QCOMPARE(prune->findChild<QSpinBox*>(QStringLiteral("m"))->value(), 4);
    QCOMPARE(damp->value(), 0.02);
    QCOMPARE(lowrank->mode(), RecipeSection::Mode::Inherit);
    // An 8:16 rule shown after the 2:4 one keeps its N (N's maximum follows M).
    doc.change(withOverride(doc.json(), {"model.layers.5.mlp.up_proj"}, {{"prune", {{"pattern", "8:16"}}}}), QStringLiteral("8:16"));
    editor.rules()->setCurrentCell(editor.rules()->rowCount() - 1, 0);
    QCOMPARE(prune->findChild<QSpinBox*>(QStringLiteral("n"))->value(), 8);
    QCOMPARE(prune->findChild<QSpinBox*>(QStringLiteral("m"))->value(), 16);
    doc.undoStack()->undo();
    editor.rules()->setCurrentCell(1, 0);

    // An unstructured fraction instead of N:M.
    auto* kind = prune->findChild<QComboBox*>(QStringLiteral("kind"));
    kind->setCurrentIndex(kind->findData(QStringLiteral("sparsity")));
    prune->findChild<QDoubleSpinBox*>(QStringLiteral("sparsity"))->setValue(0.3);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["overrides"][0]["prune"]["sparsity"].get<double>(), 0.3);
    QVERIFY(!doc.json()["overrides"][0]["prune"].contains("pattern"));
    if (const QString dir = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR"); !dir.isEmpty()) {
      editor.resize(520, 1900);
      QVERIFY(editor.grab().save(dir + QStringLiteral("/recipe-prune-lowrank.png")));
    }
  }

  // A preset's group_fallback survives an edit of another field through the form (W4A16-G128 on
  // sotu-llama stays valid when only its method changes).
  void groupFallbackSurvivesAFormEdit() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    doc.change(presetRecipe(QStringLiteral("W4A16-G128")), QStringLiteral("preset"));
    QVERIFY(doc.valid());
    editor.rules()->setCurrentCell(0, 0);
    RecipeSection* w = editor.section("weights");
    QVERIFY(w->findChild<QCheckBox*>(QStringLiteral("groupFallback"))->isChecked());
    auto* method = w->findChild<QComboBox*>(QStringLiteral("method"));
    method->setCurrentIndex(method->findData(QStringLiteral("gptq")));
    editor.setTarget(RecipeEditor::Target::Default);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["weights"]["group_fallback"].get<bool>(), true);
  }

  // GPTQ's and AWQ's options: written only where they differ from the defaults, for the method
  // that has them, and reset to the defaults when a rule without them is shown.
  void methodOptionsFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    setWeights(editor, 4, 16);
    RecipeSection* w = editor.section("weights");
    auto* method = w->findChild<QComboBox*>(QStringLiteral("method"));
    auto* act_order = w->findChild<QCheckBox*>(QStringLiteral("actOrder"));
    auto* damp = w->findChild<QDoubleSpinBox*>(QStringLiteral("damp"));
    auto* grid = w->findChild<QSpinBox*>(QStringLiteral("grid"));
    QVERIFY(method && act_order && damp && grid);
    QVERIFY(!act_order->isEnabled() && !grid->isEnabled());
    method->setCurrentIndex(method->findData(QStringLiteral("gptq")));
    QVERIFY(act_order->isEnabled() && damp->isEnabled() && !grid->isEnabled());
    act_order->setChecked(true);
    damp->setValue(0.05);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    const json gptq = doc.json()["default"]["weights"];
    QCOMPARE(gptq["act_order"].get<bool>(), true);
    QCOMPARE(gptq["damp"].get<double>(), 0.05);
    QVERIFY(!gptq.contains("block_size"));
    method->setCurrentIndex(method->findData(QStringLiteral("awq")));
    grid->setValue(40);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    const json awq = doc.json()["default"]["weights"];
    QCOMPARE(awq["grid"].get<int>(), 40);
    QVERIFY(!awq.contains("act_order") && !awq.contains("damp"));
    // A method's fields come from its declaration alone (zpsearch.cpp declares "steps" and "max_shrink").
    auto* steps = w->findChild<QSpinBox*>(QStringLiteral("steps"));
    auto* max_shrink = w->findChild<QDoubleSpinBox*>(QStringLiteral("maxShrink"));
    QVERIFY(steps && max_shrink);
    QVERIFY(!steps->isEnabled() && !max_shrink->isEnabled());
    method->setCurrentIndex(method->findData(QStringLiteral("zpsearch")));
    QVERIFY(steps->isEnabled() && max_shrink->isEnabled() && !grid->isEnabled() && !damp->isEnabled());
    w->findChild<QCheckBox*>(QStringLiteral("symmetric"))->setChecked(false);
    steps->setValue(5);
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    const json zp = doc.json()["default"]["weights"];
    QCOMPARE(zp["method"].get<std::string>(), std::string("zpsearch"));
    QCOMPARE(zp["steps"].get<int>(), 5);
    QVERIFY(!zp.contains("max_shrink") && !zp.contains("grid"));
    // A rule without the options shows the defaults, not what the form held before.
    doc.change(withDefault(doc.json(), {{"weights", {{"bits", 4}, {"strategy", "group"}, {"group_size", 16}, {"method", "gptq"}}}}),
               QStringLiteral("plain gptq"));
    editor.rules()->setCurrentCell(0, 0);
    QVERIFY(!act_order->isChecked());
    QCOMPARE(damp->value(), 0.01);
    QCOMPARE(grid->value(), 20);
  }

  // FP8 from the editor: weights' format FP8 keeps the scales choice (channel / tensor) and writes
  // "type": "float"; the activations' Type FP8 drops the bits. The core accepts what was written
  // (llm-compressor's FP8_DYNAMIC).
  void fp8FromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    RecipeSection* weights = editor.section("weights");
    RecipeSection* acts = editor.section("activations");
    QVERIFY(weights && acts);
    weights->setMode(RecipeSection::Mode::Set);
    acts->setMode(RecipeSection::Mode::Set);
    auto* format = weights->findChild<QComboBox*>(QStringLiteral("format"));
    format->setCurrentIndex(format->findData(QStringLiteral("fp8")));
    QVERIFY(!weights->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(weights->findChild<QComboBox*>(QStringLiteral("strategy"))->isEnabled());
    auto* type = acts->findChild<QComboBox*>(QStringLiteral("type"));
    QVERIFY(type);
    type->setCurrentIndex(type->findData(QStringLiteral("float")));
    QVERIFY(!acts->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["weights"], json({{"type", "float"}, {"strategy", "channel"}, {"method", "rtn"}}));
    QCOMPARE(doc.json()["default"]["activations"], json({{"type", "float"}, {"strategy", "token"}}));
    // Every layer, down_proj included (FP8 has no blocks).
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("42 of 44 layers compressed")), qPrintable(editor.sizeLabel()->text()));
    // Back to integers: the form shows the integer fields again.
    format->setCurrentIndex(format->findData(QStringLiteral("int")));
    type->setCurrentIndex(type->findData(QStringLiteral("int")));
    QVERIFY(weights->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY(!doc.json()["default"]["weights"].contains("type"));
    QVERIFY(doc.json()["default"]["activations"].contains("bits"));
  }

  // W4A4 in E2M1 blocks from the editor: the activations' Type NVFP4 writes {"format": "nvfp4"}
  // alone and disables the integer fields; the core accepts it, down_proj (688 inputs, not whole
  // blocks of 16) stays float as the plan says; back to integers brings the fields back.
  void fp4ActivationsFromTheEditor() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    editor.setTarget(RecipeEditor::Target::Default);
    RecipeSection* weights = editor.section("weights");
    RecipeSection* acts = editor.section("activations");
    QVERIFY(weights && acts);
    weights->setMode(RecipeSection::Mode::Set);
    acts->setMode(RecipeSection::Mode::Set);
    auto* format = weights->findChild<QComboBox*>(QStringLiteral("format"));
    format->setCurrentIndex(format->findData(QStringLiteral("nvfp4")));
    auto* type = acts->findChild<QComboBox*>(QStringLiteral("type"));
    auto* strategy = acts->findChild<QComboBox*>(QStringLiteral("strategy"));
    QVERIFY(type && strategy && type->findData(QStringLiteral("mxfp4")) >= 0);
    type->setCurrentIndex(type->findData(QStringLiteral("nvfp4")));
    QVERIFY(!acts->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(!strategy->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["activations"], json({{"format", "nvfp4"}}));
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("36 of 44 layers compressed")), qPrintable(editor.sizeLabel()->text()));
    // The KV cache in the same format: nothing else to set.
    RecipeSection* kv = editor.section("kv_cache");
    QVERIFY(kv);
    kv->setMode(RecipeSection::Mode::Set);
    auto* kv_method = kv->findChild<QComboBox*>(QStringLiteral("method"));
    QVERIFY(kv_method && kv_method->findData(QStringLiteral("mxfp4")) >= 0);
    kv_method->setCurrentIndex(kv_method->findData(QStringLiteral("nvfp4")));
    QVERIFY(!kv->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QCOMPARE(doc.json()["default"]["kv_cache"], json({{"method", "nvfp4"}}));
    if (const QString dir = qEnvironmentVariable("QUENCH_SCREENSHOT_DIR"); !dir.isEmpty()) {
      editor.resize(640, 1950);  // tall enough to show the KV cache section under the activations
      QVERIFY(editor.grab().save(dir + QStringLiteral("/recipe-w4a4-nvfp4.png")));
    }
    type->setCurrentIndex(type->findData(QStringLiteral("int")));
    QVERIFY(acts->findChild<QSpinBox*>(QStringLiteral("bits"))->isEnabled());
    QVERIFY(strategy->isEnabled());
    QVERIFY(editor.applySetting());
    QVERIFY(!doc.json()["default"]["activations"].contains("format"));
    QVERIFY(doc.json()["default"]["activations"].contains("bits"));
  }

  // The model-wide steps: FLAP and SmoothQuant as top-level keys, edited through the undo stack,
  // validated by the core against the model, and saved.
  void modelWideStepsAreUndoableEdits() {
    RecipeDocument doc;
    doc.setModel(session_->model());
    RecipeEditor editor(doc);
    editor.show();
    auto* flap = editor.modelWide()->findChild<QCheckBox*>(QStringLiteral("flap"));
    auto* ratio = editor.modelWide()->findChild<QDoubleSpinBox*>(QStringLiteral("flapRatio"));
    auto* target = editor.modelWide()->findChild<QComboBox*>(QStringLiteral("flapTarget"));
    QVERIFY(flap && ratio && target);
    QVERIFY(!ratio->isEnabled());
    const QString before = editor.sizeLabel()->text();
    QTest::mouseClick(flap, Qt::LeftButton);
    QVERIFY(flap->isChecked());
    QVERIFY(ratio->isEnabled());
    QVERIFY(doc.json().contains("structured"));
    QCOMPARE(doc.json()["structured"]["method"].get<std::string>(), std::string("flap"));
    QVERIFY2(doc.valid(), qPrintable(doc.error()));
    QVERIFY(doc.plan()->structured.has_value());
    QVERIFY2(editor.sizeLabel()->text().contains(QStringLiteral("counted after the run")), qPrintable(editor.sizeLabel()->text()));
    QVERIFY(before != editor.sizeLabel()->text());
    ratio->setValue(0.3);
    target->setCurrentIndex(target->findData(QStringLiteral("mlp+heads")));
    QCOMPARE(doc.json()["structured"]["ratio"].get<double>(), 0.3);
    QCOMPARE(doc.json()["structured"]["target"].get<std::string>(), std::string("mlp+heads"));
    QVERIFY(doc.valid());
    QCOMPARE(doc.plan()->structured->ratio, 0.3);
    QCOMPARE(doc.undoStack()->index(), 3);
    // Undo back to no FLAP: the box follows the document; redo brings every edit back.
    const json with = doc.json();
    for (int i = 0; i < 3; ++i) editor.undoAction()->trigger();
    QVERIFY(!doc.json().contains("structured"));
    QVERIFY(!flap->isChecked());
    QVERIFY(!ratio->isEnabled());
    QVERIFY(!editor.sizeLabel()->text().contains(QStringLiteral("counted after the run")));
    for (int i = 0; i < 3; ++i) editor.redoAction()->trigger();
    QCOMPARE(doc.json(), with);
    QVERIFY(flap->isChecked());
    QCOMPARE(ratio->value(), 0.3);
    QCOMPARE(target->currentData().toString(), QStringLiteral("mlp+heads"));
    // SmoothQuant too.
    editor.modelWide()->findChild<QCheckBox*>(QStringLiteral("smoothquant"))->setChecked(true);
    editor.modelWide()->findChild<QDoubleSpinBox*>(QStringLiteral("smoothquantAlpha"))->setValue(0.8);
    QCOMPARE(doc.json()["smoothquant"]["alpha"].get<double>(), 0.8);
    QVERIFY(doc.valid());
    // Saved, the file has both keys and the strict parser reads them back.
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("flap.json"));
    doc.save(path);
    RecipeDocument other;
    other.load(path);
    QCOMPARE(other.json()["structured"], with["structured"]);
    QVERIFY(other.recipe()->structured.has_value());
    QCOMPARE(*other.recipe()->smoothquant_alpha, 0.8);
    // Off again removes the key.
    flap->setChecked(false);
    QVERIFY(!doc.json().contains("structured"));

    // On a Mamba-2 model FLAP is the core's error, naming the key; nothing crashes.
    const auto mamba = test::loadSession(test::demo(QStringLiteral("sotu-mamba2")), false);
    RecipeDocument mdoc;
    mdoc.setModel(mamba->model());
    RecipeEditor medit(mdoc);
    medit.show();
    QTest::mouseClick(medit.modelWide()->findChild<QCheckBox*>(QStringLiteral("flap")), Qt::LeftButton);
    QVERIFY(mdoc.json().contains("structured"));
    QVERIFY(!mdoc.valid());
    QCOMPARE(mdoc.errorKey(), QStringLiteral("structured.method"));
    QVERIFY2(medit.errorLabel()->text().contains(QStringLiteral("structured")), qPrintable(medit.errorLabel()->text()));
    QVERIFY(medit.errorLabel()->isVisible());
    medit.undoAction()->trigger();
    QVERIFY(mdoc.valid());

    // Quamba2's reordering: a checkbox writing "quamba2": true; without quantized scan inputs the
    // core says what is missing; the quamba2 presets bring them and the step.
    auto* quamba2 = medit.modelWide()->findChild<QCheckBox*>(QStringLiteral("quamba2"));
    QTest::mouseClick(quamba2, Qt::LeftButton);
    QCOMPARE(mdoc.json()["quamba2"], json(true));
    QVERIFY(!mdoc.valid());
    QVERIFY2(mdoc.error().contains(QStringLiteral(":x")), qPrintable(mdoc.error()));
    QTest::mouseClick(quamba2, Qt::LeftButton);
    QVERIFY(!mdoc.json().contains("quamba2"));
    medit.applyPreset(QStringLiteral("quamba2-w4a8"));
    QVERIFY2(mdoc.valid(), qPrintable(mdoc.error()));
    QVERIFY(mdoc.plan() && mdoc.plan()->quamba2);
    QVERIFY(quamba2->isChecked());   // on through the preset, shown as such
    QVERIFY(!quamba2->isEnabled());
    QCOMPARE(medit.findChild<QComboBox*>(QStringLiteral("presets"))->currentText(), QStringLiteral("quamba2-w4a8"));
    QVERIFY(presetNames().contains(QStringLiteral("quamba2-w8a8")));
  }

  void loadAndSaveGoThroughTheStrictParser() {
    QTemporaryDir dir;
    RecipeDocument doc;
    doc.setModel(session_->model());
    doc.change(withOverride(presetRecipe(QStringLiteral("W8A8")), {kMlp}, {{"weights", {{"bits", 4}, {"group_size", 16}}}}),
               QStringLiteral("edit"));
    const QString path = dir.filePath(QStringLiteral("r.json"));
    doc.save(path);
    RecipeDocument other;
    other.load(path);
    QCOMPARE(other.json(), doc.json());
    QCOMPARE(other.filePath(), path);
    QCOMPARE(other.undoStack()->count(), 1);  // loading is an edit too

    // A misspelt key: refused, naming the file and the key; the document keeps what it had.
    const QString bad = dir.filePath(QStringLiteral("bad.json"));
    QFile f(bad);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"default": {"weights": {"bits": 4, "groupsize": 128}}})");
    f.close();
    try {
      other.load(bad);
      QFAIL("a misspelt key was accepted");
    } catch (const quench::RecipeError& e) {
      QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("groupsize")), e.what());
      QVERIFY2(QString::fromStdString(e.key()).contains(QStringLiteral("default.weights")), e.what());
    }
    QCOMPARE(other.json(), doc.json());
    // Not JSON at all.
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write("{ not json");
    f.close();
    QVERIFY_THROWS_EXCEPTION(quench::Error, other.load(bad));
    // Saving into a folder that does not exist names the file.
    try {
      doc.save(dir.filePath(QStringLiteral("missing/r.json")));
      QFAIL("saved into a missing folder");
    } catch (const quench::Error& e) {
      QVERIFY2(QString::fromStdString(e.what()).contains(QStringLiteral("missing")), e.what());
    }
  }
};

QTEST_MAIN(RecipeEditorTest)
#include "recipe_editor_test.moc"
